-- srs: hold a request while no app instance of the primary site is up.
--
-- During a failover or switchover there is a moment when HAProxy's health
-- checks (GET /readyz/primary) have marked the old primary's instances down
-- and not yet the new primary's up. Without this action HAProxy answers 503
-- at once; with it the request waits, checking every 50 ms, until an
-- instance is up or the hold time has passed, as srs edge does.
--
-- Usage (srs haproxy-config writes it):
--   global
--       lua-load /etc/haproxy/srs-hold.lua
--   frontend srs
--       http-request lua.srs_hold srs_apps 10000
core.register_action("srs_hold", { "http-req" }, function(txn, backend, hold_ms)
    local limit = tonumber(hold_ms) or 0
    local waited = 0
    while txn.f:nbsrv(backend) == 0 and waited < limit do
        core.msleep(50)
        waited = waited + 50
    end
    if waited > 0 then
        txn:set_var("txn.srs_held_ms", waited)
    end
end, 2)
