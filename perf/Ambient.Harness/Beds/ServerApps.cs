using Ambient.TestBed;

namespace Ambient.Harness.Beds;

/// <summary>The applications in the server pod: nginx with a fixed 1 KB answer (HTTP/1.1 and h2c), and an iperf3 server.</summary>
public static class ServerApps
{
    public const int BodyBytes = 1024;

    public static NetnsProcess StartNginx(Pod pod, string dir)
    {
        var body = new string('x', BodyBytes);
        return StartNginxWith(pod, dir, $$"""
            server {
                listen {{Ports.Http}} backlog=4096;
                listen {{Ports.H2c}} http2 backlog=4096;
                location / { default_type application/octet-stream; return 200 "{{body}}"; }
            }
            """);
    }

    /// <summary>
    /// An nginx in <paramref name="where"/> with the settings every harness nginx shares and <paramref name="http"/>
    /// inside its <c>http</c> block. keepalive_requests: nginx closes a keep-alive connection after 1,000 requests by
    /// default, which would put reconnects (and, through a proxy, new tunnels) into the latency test.
    /// worker_connections: the idle test.
    /// </summary>
    public static NetnsProcess StartNginxWith(NetworkNamespace where, string dir, string http)
    {
        Directory.CreateDirectory(dir);
        var conf = Path.Combine(dir, "nginx.conf");
        File.WriteAllText(conf, $$"""
            daemon off;
            master_process off;
            worker_processes 1;
            worker_rlimit_nofile 65536;
            pid {{dir}}/nginx.pid;
            error_log stderr warn;
            events { worker_connections 30000; }
            http {
                access_log off;
                keepalive_requests 100000000;
                keepalive_timeout 600s;
                client_header_timeout 600s;
                client_body_temp_path {{dir}}/body; proxy_temp_path {{dir}}/proxy; fastcgi_temp_path {{dir}}/fastcgi;
                uwsgi_temp_path {{dir}}/uwsgi; scgi_temp_path {{dir}}/scgi;
            {{http}}
            }
            """);
        return where.Start("nginx", ["-p", dir, "-c", conf, "-e", "stderr"]);
    }

    public static NetnsProcess StartIperf(Pod pod) => pod.Start("iperf3", ["-s", "-p", Ports.Iperf.ToString()]);
}
