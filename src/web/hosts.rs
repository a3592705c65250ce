//! The `Host` names the server answers to. A DNS-rebinding page (a site whose name the
//! attacker points at the laptop's address after the page has loaded) reaches the
//! server as its own origin, `Host` and `Origin` alike; only a name the server does not
//! know gives it away. An address written as digits cannot be rebound.

use std::net::{IpAddr, SocketAddr};

use anyhow::{bail, Context, Result};
use axum::http::uri::{Authority, Uri};

/// A host a request may name, with the port it must carry if it names one.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Allowed {
    name: Name,
    /// `None`: any port (a proxy in front decides it).
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Name {
    Ip(IpAddr),
    Domain(String),
}

/// The hosts the server answers to: the address a connection arrived on (for a
/// wildcard bind, whichever interface that was) and the loopback names, both at the
/// server's port; the base URL's host (the public URL, or the LAN address printed at
/// start); and those given with `--allowed-host`.
#[derive(Debug, Clone)]
pub struct AllowedHosts {
    allowed: Vec<Allowed>,
}

impl AllowedHosts {
    /// The hosts of a server with this base URL, and these extra hosts (`name`,
    /// `name:port`, `192.0.2.7`, `[2001:db8::7]:8080`).
    pub fn new(base_url: &str, extra: &[String]) -> Result<AllowedHosts> {
        let mut allowed = vec![];
        let base: Uri = base_url
            .parse()
            .with_context(|| format!("the public URL {base_url:?} is not a URL"))?;
        let Some(authority) = base.authority() else {
            bail!("the public URL {base_url:?} names no host");
        };
        allowed.push(allowed_of(authority));
        for host in extra {
            allowed.push(parse_allowed(host)?);
        }
        Ok(AllowedHosts { allowed })
    }

    /// Whether a request naming `host` in its `Host` header, on a connection that
    /// arrived at `local`, is for this server.
    pub fn allows(&self, host: &str, local: SocketAddr) -> bool {
        let Some(asked) = host_of(host) else {
            return false;
        };
        let port_fits =
            |port: Option<u16>| asked.port.is_none() || port.is_none() || asked.port == port;
        let own = match &asked.name {
            Name::Ip(ip) => ip.is_loopback() || *ip == canonical(local.ip()),
            Name::Domain(name) => name == "localhost",
        };
        if own && port_fits(Some(local.port())) {
            return true;
        }
        self.allowed
            .iter()
            .any(|a| a.name == asked.name && port_fits(a.port))
    }
}

/// Checks an `--allowed-host` value; for the command line's parser.
pub fn parse_allowed_host(value: &str) -> Result<String, String> {
    match host_of(value) {
        Some(_) => Ok(value.to_owned()),
        None => Err(NOT_A_HOST.to_owned()),
    }
}

const NOT_A_HOST: &str = "not a host name or address (with an optional :port)";

fn parse_allowed(value: &str) -> Result<Allowed> {
    host_of(value).with_context(|| format!("--allowed-host {value:?}: {NOT_A_HOST}"))
}

/// A `Host` header's name and port; `None` if it is not a plain `host[:port]`.
fn host_of(value: &str) -> Option<Allowed> {
    let authority: Authority = value.trim().parse().ok()?;
    // `Authority` takes user info and reads a port over 65535 as none at all.
    let names_port = authority.as_str().len() > authority.host().len();
    if authority.as_str().contains('@')
        || authority.host().is_empty()
        || (names_port && authority.port_u16().is_none())
    {
        return None;
    }
    Some(allowed_of(&authority))
}

fn allowed_of(authority: &Authority) -> Allowed {
    Allowed {
        name: name_of(authority.host()),
        port: authority.port_u16(),
    }
}

/// A host name compared as DNS does: case-insensitive, a trailing dot ignored, and an
/// address by its value (`[::1]` and `[0::1]` are one).
fn name_of(host: &str) -> Name {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(ip) => Name::Ip(canonical(ip)),
        Err(_) => Name::Domain(host),
    }
}

/// An IPv4 address that arrived IPv4-mapped on a dual-stack socket, as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(addr: &str) -> SocketAddr {
        addr.parse().unwrap()
    }

    #[test]
    fn the_address_a_connection_arrived_on_and_loopback_pass_at_the_servers_port() {
        let hosts = AllowedHosts::new("http://192.168.1.20:8080", &[]).unwrap();
        let lan = at("192.168.1.20:8080");
        for host in [
            "192.168.1.20:8080",
            "192.168.1.20",
            "localhost:8080",
            "LOCALHOST",
            "127.0.0.1:8080",
            "[::1]:8080",
        ] {
            assert!(hosts.allows(host, lan), "{host}");
        }
        // A wildcard bind: the connection arrived on another interface of the laptop.
        assert!(hosts.allows("10.0.0.4:8080", at("10.0.0.4:8080")));
        assert!(hosts.allows("10.0.0.4:8080", at("[::ffff:10.0.0.4]:8080")));
        for host in ["192.168.1.20:8081", "10.0.0.4:8080", "localhost:80", ""] {
            assert!(!hosts.allows(host, lan), "{host}");
        }
    }

    #[test]
    fn a_foreign_name_is_refused_whatever_its_port() {
        let hosts = AllowedHosts::new("http://192.168.1.20:8080", &[]).unwrap();
        let lan = at("192.168.1.20:8080");
        for host in [
            "evil.example:8080",
            "evil.example",
            "192.168.1.20.evil.example:8080",
            "user@192.168.1.20:8080",
            "192.168.1.20:8080/x",
            "192.168.1.20:8080, evil.example",
        ] {
            assert!(!hosts.allows(host, lan), "{host}");
        }
    }

    #[test]
    fn the_public_urls_host_and_allowed_hosts_pass() {
        let extra = vec![
            "stemmen.local".to_owned(),
            "vote.example.nl:8443".to_owned(),
            "203.0.113.9".to_owned(),
        ];
        let hosts = AllowedHosts::new("https://stem.example.nl/", &extra).unwrap();
        let behind_proxy = at("127.0.0.1:8080");
        for host in [
            "stem.example.nl",
            "Stem.Example.NL.",
            "stem.example.nl:443",
            "stemmen.local:8080",
            "vote.example.nl:8443",
            "vote.example.nl",
            "203.0.113.9:8080",
        ] {
            assert!(hosts.allows(host, behind_proxy), "{host}");
        }
        assert!(!hosts.allows("vote.example.nl:8444", behind_proxy));
        assert!(!hosts.allows("example.nl", behind_proxy));
    }

    #[test]
    fn a_bad_allowed_host_or_public_url_is_an_error() {
        for bad in ["", "http://x", "a b", "x:99999", "user@x"] {
            assert!(parse_allowed_host(bad).is_err(), "{bad:?}");
        }
        assert!(AllowedHosts::new("stem.example.nl/pad", &[]).is_err());
    }
}
