using System.Buffers;
using System.Net;
using System.Text.Json;
using Ambient.Config;
using Ambient.Daemon.Proxy;
using Ambient.Identity;
using Ambient.Observability;
using Ambient.Observability.Http;

namespace Ambient.Daemon.Admin;

/// <summary>
/// The node's admin API (127.0.0.1:15000, loopback clients only): what the daemon knows and holds, and the few
/// operations an operator needs. JSON everywhere; unknown paths are 404, wrong methods 405, bad parameters 400.
/// </summary>
public sealed class AdminApi(ProxyContext context, LogLevelSwitch levels, Action quit)
{
    public static readonly (string Method, string Path, string What)[] Endpoints =
    [
        ("GET", "/config_dump", "the whole config in use: workloads, services, policies, rejected objects, certificates"),
        ("GET", "/workloads", "workloads (local = served by this daemon)"),
        ("GET", "/services", "services with their endpoints"),
        ("GET", "/policies", "AuthorizationPolicies and PeerAuthentications"),
        ("GET", "/certs", "workload certificates: identity, serial, validity, chain"),
        ("GET", "/explain?source=NS/NAME|IP&destination=IP:PORT", "how a connection would be handled, step by step"),
        ("GET", "/logging", "the current log level"),
        ("POST", "/logging?level=trace|debug|info|warn|error", "change the log level"),
        ("POST", "/quitquitquit", "drain and stop the daemon"),
    ];

    public ValueTask<LocalHttpResponse> HandleAsync(LocalHttpRequest request)
    {
        var (method, path) = (request.Method, request.Path.TrimEnd('/'));
        var response = path switch
        {
            "" => Get(method, Index),
            "/config_dump" => Get(method, w => ConfigDump(w, context.Config.Current)),
            "/workloads" => Get(method, w => Workloads(w, context.Config.Current)),
            "/services" => Get(method, w => Services(w, context.Config.Current)),
            "/policies" => Get(method, w => Policies(w, context.Config.Current)),
            "/certs" => Get(method, Certificates),
            "/explain" => method == "GET" ? Explain(request) : NotAllowed("GET"),
            "/logging" => Logging(request),
            "/quitquitquit" => method == "POST" ? Quit() : NotAllowed("POST"),
            _ => LocalHttpResponse.Error(404, $"no admin endpoint {request.Path}; GET / lists them"),
        };
        return ValueTask.FromResult(response);
    }

    private static LocalHttpResponse Get(string method, Action<Utf8JsonWriter> write) =>
        method == "GET" ? Json(write) : NotAllowed("GET");

    private static LocalHttpResponse NotAllowed(string allowed) => LocalHttpResponse.Error(405, $"use {allowed}");

    private static LocalHttpResponse Json(Action<Utf8JsonWriter> write, int status = 200)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
            write(w);
        return LocalHttpResponse.Json(status, buffer.WrittenMemory);
    }

    private static void Index(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteStartArray("endpoints");
        foreach (var (method, path, what) in Endpoints)
        {
            w.WriteStartObject();
            w.WriteString("method", method);
            w.WriteString("path", path);
            w.WriteString("description", what);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private void ConfigDump(Utf8JsonWriter w, MeshSnapshot snapshot)
    {
        w.WriteStartObject();
        w.WriteNumber("generation", snapshot.Generation);
        w.WriteString("source", snapshot.Config.Source);
        w.WriteString("trustDomain", snapshot.TrustDomain);
        w.WriteStartArray("rejectedObjects");
        foreach (var rejected in snapshot.Config.RejectedObjects) w.WriteStringValue(rejected);
        w.WriteEndArray();
        WorkloadList(w, snapshot);
        ServiceList(w, snapshot);
        PolicyLists(w, snapshot);
        CertificateList(w);
        w.WriteEndObject();
    }

    private void Workloads(Utf8JsonWriter w, MeshSnapshot snapshot)
    {
        w.WriteStartObject();
        WorkloadList(w, snapshot);
        w.WriteEndObject();
    }

    private void WorkloadList(Utf8JsonWriter w, MeshSnapshot snapshot)
    {
        w.WriteStartArray("workloads");
        foreach (var workload in snapshot.Config.Workloads)
            ConfigJsonWriter.Workload(w, workload, extra => extra.WriteBoolean("local", IsLocal(workload)));
        w.WriteEndArray();
    }

    private bool IsLocal(Workload workload) =>
        context.Options.AgentSocket is not null
            ? context.Placements.ContainsKey(workload.Addresses[0])
            : context.Options.Workloads.Count > 0
                ? context.Options.Workloads.Contains($"{workload.Namespace}/{workload.Name}")
                : workload.Node == context.Options.Node;

    private static void Services(Utf8JsonWriter w, MeshSnapshot snapshot)
    {
        w.WriteStartObject();
        ServiceList(w, snapshot);
        w.WriteEndObject();
    }

    private static void ServiceList(Utf8JsonWriter w, MeshSnapshot snapshot)
    {
        w.WriteStartArray("services");
        foreach (var service in snapshot.Config.Services)
        {
            ConfigJsonWriter.Service(w, service, extra =>
            {
                extra.WriteStartArray("endpoints");
                foreach (var endpoint in snapshot.EndpointsOf(service))
                {
                    extra.WriteStartObject();
                    extra.WriteString("workload", endpoint.Workload.Uid);
                    extra.WriteString("address", endpoint.Workload.Addresses[0].ToString());
                    extra.WriteEndObject();
                }
                extra.WriteEndArray();
            });
        }
        w.WriteEndArray();
    }

    private static void Policies(Utf8JsonWriter w, MeshSnapshot snapshot)
    {
        w.WriteStartObject();
        PolicyLists(w, snapshot);
        w.WriteEndObject();
    }

    private static void PolicyLists(Utf8JsonWriter w, MeshSnapshot snapshot)
    {
        w.WriteStartArray("authorizationPolicies");
        foreach (var policy in snapshot.Config.AuthorizationPolicies) ConfigJsonWriter.AuthorizationPolicy(w, policy);
        w.WriteEndArray();
        w.WriteStartArray("peerAuthentications");
        foreach (var policy in snapshot.Config.PeerAuthentications) ConfigJsonWriter.PeerAuthentication(w, policy);
        w.WriteEndArray();
    }

    private void Certificates(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        CertificateList(w);
        w.WriteEndObject();
    }

    private void CertificateList(Utf8JsonWriter w)
    {
        var certificates = context.Certificates;
        w.WriteStartArray("certificates");
        foreach (var id in certificates.Identities.OrderBy(i => i.ToString(), StringComparer.Ordinal))
        {
            w.WriteStartObject();
            w.WriteString("identity", id.ToString());
            if (certificates.TryGetCurrent(id, out var current))
            {
                Certificate(w, "current", current);
            }
            else
            {
                w.WriteString("state", "pending");
            }
            if (certificates.GetPrevious(id) is { } previous) Certificate(w, "previous", previous);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    private void Certificate(Utf8JsonWriter w, string name, WorkloadCertificate certificate)
    {
        w.WriteStartObject(name);
        w.WriteString("serial", certificate.SerialNumber);
        w.WriteString("notBefore", certificate.NotBefore.UtcDateTime.ToString("O"));
        w.WriteString("notAfter", certificate.NotAfter.UtcDateTime.ToString("O"));
        w.WriteString("renewAt", certificate.RenewalTime.UtcDateTime.ToString("O"));
        w.WriteNumber("secondsToExpiry", Math.Max(0, (long)(certificate.NotAfter - DateTimeOffset.UtcNow).TotalSeconds));
        w.WriteStartArray("chain");
        ChainEntry(w, certificate.Certificate);
        foreach (var intermediate in certificate.Intermediates) ChainEntry(w, intermediate);
        ChainEntry(w, context.Root);
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void ChainEntry(Utf8JsonWriter w, System.Security.Cryptography.X509Certificates.X509Certificate2 certificate)
    {
        w.WriteStartObject();
        w.WriteString("subject", certificate.Subject);
        w.WriteString("issuer", certificate.Issuer);
        w.WriteString("serial", certificate.SerialNumber);
        w.WriteString("notAfter", certificate.NotAfter.ToUniversalTime().ToString("O"));
        w.WriteEndObject();
    }

    private LocalHttpResponse Explain(LocalHttpRequest request)
    {
        var snapshot = context.Config.Current;
        if (request["source"] is not { Length: > 0 } sourceText)
            return LocalHttpResponse.Error(400, "missing parameter 'source' (NAMESPACE/NAME or IP of a workload)");
        if (request["destination"] is not { Length: > 0 } destinationText)
            return LocalHttpResponse.Error(400, "missing parameter 'destination' (IP:PORT)");
        if (!IPEndPoint.TryParse(destinationText, out var destination) || destination.Port == 0)
            return LocalHttpResponse.Error(400, $"destination '{destinationText}' is not IP:PORT");
        var source = IPAddress.TryParse(sourceText, out var sourceIp)
            ? snapshot.WorkloadByAddress(sourceIp)
            : snapshot.WorkloadByUid(sourceText) ?? FindByName(snapshot, sourceText);
        if (source is null)
            return LocalHttpResponse.Error(400, $"source '{sourceText}' is not a workload in the config (give NAMESPACE/NAME or its IP)");
        var explanation = ConnectionExplainer.Explain(snapshot, source, destination, context.Options.HbonePort, context.LoadBalancer);
        return Json(w =>
        {
            w.WriteStartObject();
            w.WriteString("source", $"{source.Namespace}/{source.Name}");
            w.WriteString("destination", destination.ToString());
            w.WriteStartArray("steps");
            foreach (var step in explanation.Steps)
            {
                w.WriteStartObject();
                w.WriteString("step", step.Step);
                w.WriteString("detail", step.Detail);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("policies");
            foreach (var verdict in explanation.Policies)
            {
                w.WriteStartObject();
                w.WriteString("policy", verdict.Policy);
                w.WriteString("action", verdict.Action.ToString().ToUpperInvariant());
                w.WriteString("verdict", verdict.Matched ? "matched" : "not matched");
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteString("result", explanation.Result);
            w.WriteString("reason", explanation.Reason);
            w.WriteEndObject();
        });
    }

    private static Workload? FindByName(MeshSnapshot snapshot, string namespacedName)
    {
        foreach (var workload in snapshot.Config.Workloads)
            if ($"{workload.Namespace}/{workload.Name}" == namespacedName) return workload;
        return null;
    }

    private LocalHttpResponse Logging(LocalHttpRequest request)
    {
        if (request.Method == "POST")
        {
            if (request["level"] is not { } name || !LogLevelSwitch.TryParse(name, out var level))
                return LocalHttpResponse.Error(400, $"parameter 'level' must be one of {string.Join(", ", LogLevelSwitch.Names)}");
            levels.Level = level;
        }
        else if (request.Method != "GET")
        {
            return NotAllowed("GET or POST");
        }
        return Json(w =>
        {
            w.WriteStartObject();
            w.WriteString("level", LogLevelSwitch.Name(levels.Level));
            w.WriteEndObject();
        });
    }

    private LocalHttpResponse Quit()
    {
        quit();
        return Json(w =>
        {
            w.WriteStartObject();
            w.WriteString("status", "draining");
            w.WriteEndObject();
        });
    }
}
