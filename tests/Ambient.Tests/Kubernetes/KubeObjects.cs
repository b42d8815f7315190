using System.Text.Json.Nodes;

namespace Ambient.Tests.Kubernetes;

/// <summary>Builders for the API objects tests push into <see cref="FakeApiServer"/> (shaped like real API JSON).</summary>
internal static class KubeObjects
{
    public static string PodUid(string ns, string name) => $"uid-{ns}-{name}";

    public static JsonObject Namespace(string name, params (string Key, string Value)[] labels) => new()
    {
        ["apiVersion"] = "v1",
        ["kind"] = "Namespace",
        ["metadata"] = new JsonObject { ["name"] = name, ["labels"] = Labels(labels) },
        ["status"] = new JsonObject { ["phase"] = "Active" },
    };

    public static JsonObject Pod(
        string ns, string name, string ip, string serviceAccount = "default", string node = "node-a",
        (string Key, string Value)[]? labels = null, string phase = "Running", (string Name, int Port)[]? ports = null, string? ip6 = null)
    {
        var podIPs = new JsonArray { new JsonObject { ["ip"] = ip } };
        if (ip6 is not null) podIPs.Add(new JsonObject { ["ip"] = ip6 });
        var containerPorts = new JsonArray();
        foreach (var (portName, port) in ports ?? [])
        {
            var p = new JsonObject { ["containerPort"] = port, ["protocol"] = "TCP" };
            if (portName.Length > 0) p["name"] = portName;
            containerPorts.Add(p);
        }
        var status = new JsonObject
        {
            ["phase"] = phase,
            ["conditions"] = new JsonArray { new JsonObject { ["type"] = "Ready", ["status"] = "True", ["lastProbeTime"] = null } },
        };
        if (phase == "Running")
        {
            status["podIP"] = ip;
            status["podIPs"] = podIPs;
        }
        return new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Pod",
            ["metadata"] = new JsonObject
            {
                ["name"] = name,
                ["namespace"] = ns,
                ["uid"] = PodUid(ns, name),
                ["labels"] = Labels(labels ?? []),
            },
            ["spec"] = new JsonObject
            {
                ["serviceAccountName"] = serviceAccount,
                ["nodeName"] = node,
                ["containers"] = new JsonArray { new JsonObject { ["name"] = "app", ["image"] = "example/app:1", ["ports"] = containerPorts } },
            },
            ["status"] = status,
        };
    }

    /// <param name="ports">Service ports; TargetPort is an int or a port name.</param>
    public static JsonObject Service(
        string ns, string name, string? clusterIP, (string Name, int Port, object TargetPort)[] ports,
        (string Key, string Value)[]? selector = null, (string Key, string Value)[]? labels = null)
    {
        var portList = new JsonArray();
        foreach (var (portName, port, target) in ports)
        {
            portList.Add(new JsonObject
            {
                ["name"] = portName,
                ["port"] = port,
                ["protocol"] = "TCP",
                ["targetPort"] = target is int n ? JsonValue.Create(n) : JsonValue.Create((string)target),
            });
        }
        var spec = new JsonObject { ["type"] = "ClusterIP", ["ports"] = portList };
        if (clusterIP is not null)
        {
            spec["clusterIP"] = clusterIP;
            spec["clusterIPs"] = new JsonArray { clusterIP };
        }
        if (selector is not null) spec["selector"] = Labels(selector);
        return new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Service",
            ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns, ["labels"] = Labels(labels ?? []) },
            ["spec"] = spec,
        };
    }

    /// <summary>An EndpointSlice of <paramref name="service"/> whose endpoints are pods (targetRef with the pod's uid).</summary>
    public static JsonObject EndpointSlice(
        string ns, string service, string name, (string Pod, string Ip, bool Ready)[] endpoints, (string Name, int Port)[] ports)
    {
        var list = new JsonArray();
        foreach (var (pod, ip, ready) in endpoints)
        {
            list.Add(new JsonObject
            {
                ["addresses"] = new JsonArray { ip },
                ["conditions"] = new JsonObject { ["ready"] = ready, ["serving"] = ready, ["terminating"] = false },
                ["targetRef"] = new JsonObject { ["kind"] = "Pod", ["name"] = pod, ["namespace"] = ns, ["uid"] = PodUid(ns, pod) },
            });
        }
        var portList = new JsonArray();
        foreach (var (portName, port) in ports) portList.Add(new JsonObject { ["name"] = portName, ["port"] = port, ["protocol"] = "TCP" });
        return new JsonObject
        {
            ["apiVersion"] = "discovery.k8s.io/v1",
            ["kind"] = "EndpointSlice",
            ["metadata"] = new JsonObject
            {
                ["name"] = name,
                ["namespace"] = ns,
                ["labels"] = new JsonObject { ["kubernetes.io/service-name"] = service },
            },
            ["addressType"] = "IPv4",
            ["endpoints"] = list,
            ["ports"] = portList,
        };
    }

    public static JsonObject WaypointGateway(string ns, string name, string? hostname = null, string className = "istio-waypoint")
    {
        var gateway = new JsonObject
        {
            ["apiVersion"] = "gateway.networking.k8s.io/v1",
            ["kind"] = "Gateway",
            ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns },
            ["spec"] = new JsonObject
            {
                ["gatewayClassName"] = className,
                ["listeners"] = new JsonArray { new JsonObject { ["name"] = "mesh", ["port"] = 15008, ["protocol"] = "HBONE" } },
            },
        };
        if (hostname is not null)
        {
            gateway["status"] = new JsonObject { ["addresses"] = new JsonArray { new JsonObject { ["type"] = "Hostname", ["value"] = hostname } } };
        }
        return gateway;
    }

    private static JsonObject Labels((string Key, string Value)[] labels)
    {
        var obj = new JsonObject();
        foreach (var (key, value) in labels) obj[key] = value;
        return obj;
    }
}
