//! HTTP CONNECT proxies for tunnels, without I/O: which proxy the environment names for a
//! tunnel URL (curl's rules: `ALL_PROXY`, `HTTPS_PROXY` for `wss://`, `HTTP_PROXY` for `ws://`,
//! `NO_PROXY`; upper or lower case), the CONNECT request, and the proxy's answer. The async
//! part (`io::tunnel`) only moves the bytes.

/// Where a tunnel URL points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `wss://` (TLS) rather than `ws://`.
    pub secure: bool,
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// Port (443/80 when the URL names none).
    pub port: u16,
}

/// Why a proxy cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("proxy {proxy}: {problem}")]
pub struct ProxyError {
    /// The proxy, as configured.
    pub proxy: String,
    /// What went wrong.
    pub problem: ProxyProblem,
}

/// What is wrong with a proxy, by kind, so each face can say it its own way.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyProblem {
    /// The setting names another kind of proxy (`socks5://` …).
    #[error("only HTTP CONNECT proxies are supported, not {0}://")]
    UnsupportedScheme(String),
    /// The setting carries credentials, which are not supported.
    #[error("proxy credentials in the URL are not supported")]
    Credentials,
    /// The port is not a number.
    #[error("the port is not a number")]
    BadPort,
    /// The setting names no host.
    #[error("no host")]
    NoHost,
    /// The proxy cannot be reached (the connection's error, in words).
    #[error("cannot connect: {0}")]
    Unreachable(String),
    /// The connection to the proxy broke before the tunnel was through.
    #[error("connection lost during CONNECT: {0}")]
    ConnectionLost(String),
    /// The answer to CONNECT is longer than [`HEAD_LIMIT`].
    #[error("its answer to CONNECT is too long")]
    AnswerTooLong,
    /// The answer to CONNECT is not HTTP.
    #[error("its answer to CONNECT is not HTTP")]
    NotHttp,
    /// The proxy refused to connect to the target (a non-2xx status).
    #[error("it refused to connect to {target} (HTTP {status})")]
    Refused {
        /// The target as CONNECT named it (`host:port`).
        target: String,
        /// The HTTP status of the refusal.
        status: u16,
    },
}

/// Longest CONNECT answer head accepted from a proxy.
pub const HEAD_LIMIT: usize = 8 * 1024;

/// An HTTP proxy that tunnels with CONNECT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpProxy {
    /// As configured (for messages).
    pub text: String,
    /// The proxy's host.
    pub host: String,
    /// The proxy's port (80 when not given).
    pub port: u16,
}

impl HttpProxy {
    /// The proxy to use for `target` per the environment (`env` looks a variable up; both
    /// upper- and lower-case names are read, as curl does). `None`: connect directly.
    ///
    /// # Errors
    /// [`ProxyError`] for a proxy that cannot be used (not HTTP, credentials, bad port).
    pub fn for_target(
        target: &Target,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, ProxyError> {
        let var = |name: &str| {
            env(name)
                .or_else(|| env(&name.to_lowercase()))
                .filter(|v| !v.trim().is_empty())
        };
        if let Some(no_proxy) = var("NO_PROXY")
            && no_proxy.split(',').map(str::trim).any(|rule| {
                let rule = rule.trim_start_matches('.');
                rule == "*"
                    || (!rule.is_empty()
                        && (target.host == rule || target.host.ends_with(&format!(".{rule}"))))
            })
        {
            return Ok(None);
        }
        let scheme_var = if target.secure {
            "HTTPS_PROXY"
        } else {
            "HTTP_PROXY"
        };
        let Some(text) = var(scheme_var).or_else(|| var("ALL_PROXY")) else {
            return Ok(None);
        };
        let fail = |problem: ProxyProblem| ProxyError {
            proxy: text.clone(),
            problem,
        };
        let rest = match text.split_once("://") {
            Some(("http", rest)) => rest,
            None => text.as_str(),
            Some((scheme, _)) => {
                return Err(fail(ProxyProblem::UnsupportedScheme(scheme.to_owned())));
            }
        };
        let authority = rest.trim_end_matches('/');
        if authority.contains('@') {
            return Err(fail(ProxyProblem::Credentials));
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || host.starts_with('[') => {
                (host, port.parse().map_err(|_| fail(ProxyProblem::BadPort))?)
            }
            _ => (authority, 80),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(fail(ProxyProblem::NoHost));
        }
        Ok(Some(Self {
            host: host.to_owned(),
            port,
            text,
        }))
    }

    /// `host:port` of `target` as CONNECT names it (IPv6 in brackets).
    pub fn authority(target: &Target) -> String {
        if target.host.contains(':') {
            format!("[{}]:{}", target.host, target.port)
        } else {
            format!("{}:{}", target.host, target.port)
        }
    }

    /// The CONNECT request for `target`.
    pub fn connect_request(target: &Target) -> String {
        let authority = Self::authority(target);
        format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n")
    }

    /// Checks the proxy's answer head (everything up to and including the blank line): a 2xx
    /// status lets the tunnel through.
    ///
    /// # Errors
    /// [`ProxyError`] when the answer is not HTTP, too long, or refuses.
    pub fn check_answer(&self, target: &Target, head: &[u8]) -> Result<(), ProxyError> {
        if head.len() > HEAD_LIMIT {
            return Err(self.error(ProxyProblem::AnswerTooLong));
        }
        let status = head
            .split(|&b| b == b' ')
            .nth(1)
            .filter(|_| head.starts_with(b"HTTP/"))
            .and_then(|code| core::str::from_utf8(code).ok())
            .and_then(|code| code.parse::<u16>().ok())
            .ok_or_else(|| self.error(ProxyProblem::NotHttp))?;
        if !(200..300).contains(&status) {
            return Err(self.error(ProxyProblem::Refused {
                target: Self::authority(target),
                status,
            }));
        }
        Ok(())
    }

    /// `problem`, as this proxy's error.
    pub fn error(&self, problem: ProxyProblem) -> ProxyError {
        ProxyError {
            proxy: self.text.clone(),
            problem,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ws[s]://host[:port]/…` (enough for these tests).
    fn target(url: &str) -> Target {
        let (scheme, rest) = url.split_once("://").unwrap_or(("ws", url));
        let authority = rest.split('/').next().unwrap_or_default();
        let secure = scheme == "wss";
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (h, p.parse().unwrap_or(0)),
            None => (authority, if secure { 443 } else { 80 }),
        };
        Target {
            secure,
            host: host.to_owned(),
            port,
        }
    }

    fn proxy(url: &str, vars: &[(&str, &str)]) -> Result<Option<HttpProxy>, ProxyError> {
        HttpProxy::for_target(&target(url), |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    fn host_port(p: &Result<Option<HttpProxy>, ProxyError>) -> Option<(String, u16)> {
        match p {
            Ok(Some(p)) => Some((p.host.clone(), p.port)),
            _ => None,
        }
    }

    #[test]
    fn proxy_variables_follow_curl() {
        let wss = "wss://cable.ua5v.com/cable/connect/000001/00";
        let ws = "ws://relay.example:8787/cable/new/00";
        assert_eq!(host_port(&proxy(wss, &[])), None);
        assert_eq!(
            host_port(&proxy(wss, &[("HTTPS_PROXY", "http://proxy:3128")])),
            Some(("proxy".to_owned(), 3128))
        );
        // HTTPS_PROXY is for wss only; ws uses HTTP_PROXY or ALL_PROXY.
        assert_eq!(
            host_port(&proxy(ws, &[("HTTPS_PROXY", "http://proxy:3128")])),
            None
        );
        assert_eq!(
            host_port(&proxy(ws, &[("all_proxy", "proxy.corp")])),
            Some(("proxy.corp".to_owned(), 80))
        );
        assert_eq!(
            host_port(&proxy(wss, &[("ALL_PROXY", "http://[::1]:8080/")])),
            Some(("::1".to_owned(), 8080))
        );
        // NO_PROXY: exact host, domain suffix, or *.
        for rule in [
            "cable.ua5v.com",
            ".ua5v.com",
            "ua5v.com",
            "*",
            "x, ua5v.com",
        ] {
            let vars = [("HTTPS_PROXY", "http://proxy:3128"), ("NO_PROXY", rule)];
            assert_eq!(host_port(&proxy(wss, &vars)), None, "{rule}");
        }
        let vars = [
            ("HTTPS_PROXY", "http://proxy:3128"),
            ("NO_PROXY", "a5v.com"),
        ];
        assert!(host_port(&proxy(wss, &vars)).is_some());
    }

    #[test]
    fn unusable_proxies_are_named() {
        let wss = "wss://cable.auth.com/x";
        for (bad, why) in [
            (
                "socks5://proxy:1080",
                ProxyProblem::UnsupportedScheme("socks5".to_owned()),
            ),
            ("http://user:pw@proxy:3128", ProxyProblem::Credentials),
            ("http://proxy:port", ProxyProblem::BadPort),
            ("http://:8080", ProxyProblem::NoHost),
        ] {
            match proxy(wss, &[("HTTPS_PROXY", bad)]) {
                Err(ProxyError { proxy, problem }) => {
                    assert_eq!(proxy, bad);
                    assert_eq!(problem, why, "{bad}");
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn connect_answers_are_checked() {
        let target = target("wss://cable.auth.com/x");
        let proxy = HttpProxy {
            text: "http://proxy:3128".to_owned(),
            host: "proxy".to_owned(),
            port: 3128,
        };
        assert_eq!(
            HttpProxy::connect_request(&target),
            "CONNECT cable.auth.com:443 HTTP/1.1\r\nHost: cable.auth.com:443\r\n\r\n"
        );
        assert!(
            proxy
                .check_answer(&target, b"HTTP/1.1 200 Connection established\r\n\r\n")
                .is_ok()
        );
        let refused = proxy.check_answer(&target, b"HTTP/1.1 403 Forbidden\r\n\r\n");
        assert_eq!(
            refused.unwrap_err().problem,
            ProxyProblem::Refused {
                target: "cable.auth.com:443".to_owned(),
                status: 403
            }
        );
        for junk in [
            &b""[..],
            b"SSH-2.0-x\r\n\r\n",
            b"HTTP/1.1 abc\r\n\r\n",
            b"NOTHTTP 200 ok\r\n\r\n",
        ] {
            let error = proxy.check_answer(&target, junk).unwrap_err();
            assert_eq!(error.problem, ProxyProblem::NotHttp, "{junk:?}");
        }
        let long = vec![b'a'; HEAD_LIMIT + 1];
        assert_eq!(
            proxy.check_answer(&target, &long).unwrap_err().problem,
            ProxyProblem::AnswerTooLong
        );
        let v6 = Target {
            secure: false,
            host: "::1".to_owned(),
            port: 8787,
        };
        assert!(HttpProxy::connect_request(&v6).starts_with("CONNECT [::1]:8787 "));
    }
}
