using System.Net;
using System.Text;

namespace Ambient.Harness.Configs;

/// <summary>
/// The text of one HAProxy configuration: TCP mode (no HTTP parsing, as Ambient's L4 path) relaying each listed
/// port, optionally originating or terminating mutual TLS 1.3 on the hop between the nodes.
/// </summary>
public static class HaproxyConfigFile
{
    public enum HopTls { None, Originate, Terminate }

    /// <param name="routes">For each relayed port: listen address → upstream address.</param>
    /// <param name="maxConnections">HAProxy refuses to start if its maxconn needs more descriptors (2 per connection) than it may open.</param>
    public static string Build(IEnumerable<(IPEndPoint Listen, IPEndPoint Upstream)> routes, HopTls listenTls, HopTls upstreamTls, TlsFiles? tls, int maxConnections)
    {
        var sb = new StringBuilder();
        // maxconn as high as the open-file limit allows (the idle test holds thousands of connections); no logging, like a tuned relay;
        // threads left at HAProxy's default (one per CPU), the same CPUs the daemon's thread pool gets.
        sb.Append($"""
            global
                maxconn {maxConnections}
                ssl-server-verify required
                ssl-default-bind-options ssl-min-ver TLSv1.3
                ssl-default-server-options ssl-min-ver TLSv1.3

            defaults
                mode tcp
                timeout connect 5s
                timeout client 1h
                timeout server 1h
                maxconn {maxConnections}

            """);
        foreach (var (listen, upstream) in routes)
        {
            var bindTls = listenTls == HopTls.Terminate && tls is not null
                ? $" ssl crt {tls.ServerPemPath} ca-file {tls.CaPath} verify required alpn h2"
                : "";
            var serverTls = upstreamTls == HopTls.Originate && tls is not null
                ? $" ssl crt {tls.ClientPemPath} ca-file {tls.CaPath} verify required verifyhost {tls.ServerName} alpn h2"
                : "";
            sb.Append($"""

                listen relay_{listen.Port}
                    bind {listen}{bindTls}
                    server upstream {upstream}{serverTls}

                """);
        }
        return sb.ToString();
    }
}
