#![no_main]
//! Proxy settings from the environment and a proxy's answer to CONNECT: never a panic, and a
//! usable proxy always has a host.
use hybrid::proxy::{HttpProxy, Target};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    // "proxy text \0 no_proxy text \0 answer head"
    let mut parts = rest.splitn(3, |&b| b == 0);
    let proxy_text = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let no_proxy = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let head = parts.next().unwrap_or_default();
    let target = Target {
        secure: selector & 1 == 1,
        host: if selector & 2 == 2 { "::1" } else { "cable.ua5v.com" }.to_owned(),
        port: 443,
    };
    let env = |name: &str| match name {
        "ALL_PROXY" | "HTTPS_PROXY" | "http_proxy" => Some(proxy_text.clone()),
        "NO_PROXY" if selector & 4 == 4 => Some(no_proxy.clone()),
        _ => None,
    };
    let request = HttpProxy::connect_request(&target);
    assert!(request.starts_with("CONNECT ") && request.ends_with("\r\n\r\n"));
    if let Ok(Some(proxy)) = HttpProxy::for_target(&target, env) {
        assert!(!proxy.host.is_empty());
        let _ = proxy.check_answer(&target, head);
    }
    let fixed = HttpProxy {
        text: "http://proxy:3128".to_owned(),
        host: "proxy".to_owned(),
        port: 3128,
    };
    if fixed.check_answer(&target, head).is_ok() {
        assert!(head.starts_with(b"HTTP/"));
    }
});
