//! Where the network listener binds and what that implies: a loopback address serves plain
//! HTTP and WebSocket unless a certificate is given; any other address always uses TLS (the
//! user's certificate, or one Arbor generates and pins) and is announced loudly.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use serde::Deserialize;

use super::tls::CertificateFiles;

/// The `listen` section of the config file, also given as `arbor daemon --listen …`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListenConfig {
    /// `ADDRESS:PORT` (`localhost:PORT` means 127.0.0.1; port 0 picks a free one).
    pub address: String,
    /// The certificate chain to serve (PEM), with `tlsKey`.
    #[serde(default)]
    pub tls_cert: Option<PathBuf>,
    /// The private key of `tlsCert` (PEM).
    #[serde(default)]
    pub tls_key: Option<PathBuf>,
    /// More names clients use to reach the daemon (for `Host`, `Origin` and a generated
    /// certificate), such as a machine name on the local network.
    #[serde(default)]
    pub hosts: Vec<String>,
}

/// Why the listener's settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    /// The address is not `IP:PORT` or `localhost:PORT`.
    #[error("cannot listen on '{0}': expected ADDRESS:PORT, such as 127.0.0.1:7420")]
    Address(String),
    /// Only one of the certificate and its key was given.
    #[error("a TLS certificate needs its key, and a key its certificate (tlsCert and tlsKey)")]
    HalfCertificate,
    /// A wildcard address has no name a client could send as `Host`.
    #[error("listening on {0} needs at least one name clients will use (hosts, or --allow-host)")]
    NoName(String),
    /// A name is not a plain host name.
    #[error("'{0}' is not a host name")]
    BadHost(String),
}

/// How the listener serves.
#[derive(Debug, Clone, PartialEq)]
pub enum Security {
    /// Plain HTTP and WebSocket: only on a loopback address.
    Plain,
    /// TLS with these files.
    Tls(CertificateFiles),
    /// TLS with the certificate Arbor keeps (generated on first use).
    TlsGenerated,
}

/// The listener's settings, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Listen {
    /// Where to bind.
    pub address: SocketAddr,
    /// Plain or TLS.
    pub security: Security,
    /// Names clients use, besides the address itself (`localhost` for a loopback one).
    pub names: Vec<String>,
}

impl Listen {
    /// Checks `config`.
    pub fn parse(config: &ListenConfig) -> Result<Listen, ListenError> {
        let address = parse_address(&config.address)?;
        let security = match (&config.tls_cert, &config.tls_key) {
            (Some(cert), Some(key)) => Security::Tls(CertificateFiles { cert: cert.clone(), key: key.clone() }),
            (None, None) if address.ip().is_loopback() => Security::Plain,
            (None, None) => Security::TlsGenerated,
            _ => return Err(ListenError::HalfCertificate),
        };
        let mut names = Vec::new();
        if address.ip().is_loopback() {
            names.push("localhost".to_string());
        }
        for host in &config.hosts {
            let valid = !host.is_empty()
                && host.bytes().all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'-'));
            if !valid {
                return Err(ListenError::BadHost(host.clone()));
            }
            names.push(host.to_ascii_lowercase());
        }
        if address.ip().is_unspecified() && config.hosts.is_empty() {
            return Err(ListenError::NoName(config.address.clone()));
        }
        Ok(Listen { address, security, names })
    }

    /// `http` or `https` (the WebSocket is `ws` or `wss` alike).
    pub fn scheme(&self) -> &'static str {
        if self.security == Security::Plain { "http" } else { "https" }
    }

    /// Every `Host` value that names this listener once bound on `port`: the address itself
    /// (unless it is a wildcard), then the names, each with the port. The first is the origin
    /// Arbor prints, so a bare address, which needs no name resolution, comes first.
    pub fn hosts(&self, port: u16) -> Vec<String> {
        let address = Some(self.address.ip()).filter(|ip| !ip.is_unspecified());
        let address = address.map(|ip| SocketAddr::new(ip, port).to_string());
        address.into_iter().chain(self.names.iter().map(|name| format!("{name}:{port}"))).collect()
    }

    /// The names and the address, for a generated certificate.
    pub fn certificate_names(&self) -> Vec<String> {
        let mut names = self.names.clone();
        if !self.address.ip().is_unspecified() {
            names.push(self.address.ip().to_string());
        }
        names
    }
}

fn parse_address(text: &str) -> Result<SocketAddr, ListenError> {
    if let Some(port) = text.strip_prefix("localhost:") {
        let port = port.parse().map_err(|_| ListenError::Address(text.into()))?;
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    text.parse().map_err(|_| ListenError::Address(text.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listen(address: &str) -> Result<Listen, ListenError> {
        Listen::parse(&ListenConfig { address: address.into(), ..ListenConfig::default() })
    }

    #[test]
    fn loopback_is_plain_and_anything_else_needs_tls() {
        let local = listen("127.0.0.1:7420").unwrap();
        assert_eq!(local.security, Security::Plain);
        assert_eq!(local.hosts(7420), ["127.0.0.1:7420", "localhost:7420"]);
        assert_eq!(listen("localhost:0").unwrap().address, "127.0.0.1:0".parse().unwrap());
        assert_eq!(listen("192.168.1.5:7420").unwrap().security, Security::TlsGenerated);
        assert_eq!(listen("192.168.1.5:7420").unwrap().scheme(), "https");
        assert!(matches!(listen("0.0.0.0:7420"), Err(ListenError::NoName(_))));
        assert!(matches!(listen("7420"), Err(ListenError::Address(_))));
        let half =
            ListenConfig { address: "127.0.0.1:1".into(), tls_cert: Some("c".into()), ..ListenConfig::default() };
        assert!(matches!(Listen::parse(&half), Err(ListenError::HalfCertificate)));
        let bad = ListenConfig { address: "127.0.0.1:1".into(), hosts: vec!["a b".into()], ..ListenConfig::default() };
        assert!(matches!(Listen::parse(&bad), Err(ListenError::BadHost(_))));
    }
}
