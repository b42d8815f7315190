

namespace Ambient.TestBed;

/// <summary>nginx in a pod, answering "hello from &lt;pod&gt;" (port 80 unless told).</summary>
public static class Nginx
{
    public static NetnsProcess Start(Pod pod, string dir, int port = 80)
    {
        Directory.CreateDirectory(dir);
        var conf = Path.Combine(dir, "nginx.conf");
        File.WriteAllText(conf, $$"""
            daemon off;
            master_process off;
            worker_processes 1;
            pid {{dir}}/nginx.pid;
            error_log stderr notice;
            events { worker_connections 256; }
            http {
                access_log off;
                client_body_temp_path {{dir}}/body; proxy_temp_path {{dir}}/proxy; fastcgi_temp_path {{dir}}/fastcgi;
                uwsgi_temp_path {{dir}}/uwsgi; scgi_temp_path {{dir}}/scgi;
                server { listen {{port}}; location / { return 200 "hello from {{pod.Name}}\n"; } }
            }
            """);
        return pod.Start("nginx", ["-p", dir, "-c", conf, "-e", "stderr"]);
    }
}
