//! Database URLs as they may be shown.

/// A database URL as it may be shown: the password replaced by `***`.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_never_shows() {
        assert_eq!(
            redacted("mysql://srs:s3cret@db:3306/srs"),
            "mysql://srs:***@db:3306/srs"
        );
        assert_eq!(redacted("sqlite:./srs.db"), "sqlite:./srs.db");
        assert_eq!(redacted("mysql://db:3306/srs"), "mysql://db:3306/srs");
    }
}
