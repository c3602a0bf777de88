use crate::both_engines;
use crate::helpers::{expect_problem, Engine};
use sqlx::Connection;

both_engines!(
    a_broken_database_gets_a_clean_500_that_leaks_nothing,
    |app| {
        match app.engine {
            Engine::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&app.database_url)
                    .await
                    .expect("connect");
                sqlx::query("DROP TABLE idempotency_keys")
                    .execute(&mut conn)
                    .await
                    .expect("drop");
                sqlx::query("ALTER TABLE students RENAME TO students_gone")
                    .execute(&mut conn)
                    .await
                    .expect("break");
            }
            Engine::MariaDb => {
                let mut conn = sqlx::MySqlConnection::connect(&app.database_url)
                    .await
                    .expect("connect");
                sqlx::raw_sql("RENAME TABLE students TO students_gone")
                    .execute(&mut conn)
                    .await
                    .expect("break");
            }
        }
        let problem = expect_problem(app.get("/api/v1/students").await, 500, "broken schema").await;
        let text = problem.to_string().to_lowercase();
        assert!(
            !text.contains("students_gone") && !text.contains("sql") && !text.contains("table"),
            "no internals: {text}"
        );
        let page = app.get("/students").await;
        assert_eq!(page.status(), 500);
        assert_eq!(
            app.get("/healthz").await.status(),
            200,
            "the process stays up"
        );
    }
);
