using System.Collections.Immutable;
using System.Net;
using System.Text.Json;

namespace Ambient.Config;

/// <summary>
/// Writes the config model as JSON with the field names of the YAML file (and of Istio's objects), so what the admin
/// API dumps reads like what the user wrote. Hand-written with <see cref="Utf8JsonWriter"/>: no reflection (NativeAOT).
/// </summary>
public static class ConfigJsonWriter
{
    /// <param name="extra">Writes further properties into the same object (e.g. runtime state beside the config).</param>
    public static void Workload(Utf8JsonWriter w, Workload workload, Action<Utf8JsonWriter>? extra = null)
    {
        w.WriteStartObject();
        w.WriteString("uid", workload.Uid);
        w.WriteString("name", workload.Name);
        w.WriteString("namespace", workload.Namespace);
        w.WriteString("serviceAccount", workload.ServiceAccount);
        w.WriteString("identity", workload.Identity);
        Addresses(w, "addresses", workload.Addresses);
        w.WriteString("node", workload.Node);
        if (workload.Network.Length > 0) w.WriteString("network", workload.Network);
        if (!workload.Locality.IsEmpty) w.WriteString("locality", workload.Locality.ToString());
        Labels(w, "labels", workload.Labels);
        w.WriteString("protocol", workload.Protocol == WorkloadProtocol.Hbone ? "HBONE" : "TCP");
        if (workload.Waypoint is { } waypoint) w.WriteString("waypoint", waypoint.ToString());
        w.WriteStartObject("services");
        foreach (var (service, ports) in workload.Services.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            Ports(w, service, ports);
        w.WriteEndObject();
        extra?.Invoke(w);
        w.WriteEndObject();
    }

    /// <param name="extra">Writes further properties into the same object (e.g. resolved endpoints).</param>
    public static void Service(Utf8JsonWriter w, Service service, Action<Utf8JsonWriter>? extra = null)
    {
        w.WriteStartObject();
        w.WriteString("name", service.Name);
        w.WriteString("namespace", service.Namespace);
        w.WriteString("hostname", service.Hostname);
        Addresses(w, "vips", service.Vips);
        Ports(w, "ports", service.Ports);
        if (service.Waypoint is { } waypoint) w.WriteString("waypoint", waypoint.ToString());
        if (!service.SubjectAltNames.IsEmpty) Strings(w, "subjectAltNames", service.SubjectAltNames);
        if (!service.Labels.IsEmpty) Labels(w, "labels", service.Labels);
        if (service.Selector is { } selector) Labels(w, "selector", selector);
        extra?.Invoke(w);
        w.WriteEndObject();
    }

    public static void AuthorizationPolicy(Utf8JsonWriter w, AuthorizationPolicy policy)
    {
        w.WriteStartObject();
        Metadata(w, policy.Name, policy.Namespace);
        w.WriteStartObject("spec");
        if (policy.Selector is { } selector) Selector(w, selector);
        if (!policy.TargetRefs.IsEmpty)
        {
            w.WriteStartArray("targetRefs");
            foreach (var t in policy.TargetRefs)
            {
                w.WriteStartObject();
                w.WriteString("group", t.Group);
                w.WriteString("kind", t.Kind);
                w.WriteString("name", t.Name);
                if (t.Namespace is not null) w.WriteString("namespace", t.Namespace);
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        w.WriteString("action", policy.Action.ToString().ToUpperInvariant());
        if (policy.Provider is not null)
        {
            w.WriteStartObject("provider");
            w.WriteString("name", policy.Provider);
            w.WriteEndObject();
        }
        w.WriteStartArray("rules");
        foreach (var rule in policy.Rules) Rule(w, rule);
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteEndObject();
    }

    public static void PeerAuthentication(Utf8JsonWriter w, PeerAuthentication policy)
    {
        w.WriteStartObject();
        Metadata(w, policy.Name, policy.Namespace);
        w.WriteStartObject("spec");
        if (policy.Selector is { } selector) Selector(w, selector);
        w.WriteStartObject("mtls");
        w.WriteString("mode", policy.Mtls.ToString().ToUpperInvariant());
        w.WriteEndObject();
        if (!policy.PortLevelMtls.IsEmpty)
        {
            w.WriteStartObject("portLevelMtls");
            foreach (var (port, mode) in policy.PortLevelMtls.OrderBy(kv => kv.Key))
            {
                w.WriteStartObject(port.ToString(System.Globalization.CultureInfo.InvariantCulture));
                w.WriteString("mode", mode.ToString().ToUpperInvariant());
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void Rule(Utf8JsonWriter w, AuthorizationRule rule)
    {
        w.WriteStartObject();
        if (!rule.From.IsEmpty)
        {
            w.WriteStartArray("from");
            foreach (var s in rule.From)
            {
                w.WriteStartObject();
                w.WriteStartObject("source");
                NonEmpty(w, "principals", s.Principals);
                NonEmpty(w, "notPrincipals", s.NotPrincipals);
                NonEmpty(w, "requestPrincipals", s.RequestPrincipals);
                NonEmpty(w, "notRequestPrincipals", s.NotRequestPrincipals);
                NonEmpty(w, "namespaces", s.Namespaces);
                NonEmpty(w, "notNamespaces", s.NotNamespaces);
                Networks(w, "ipBlocks", s.IpBlocks);
                Networks(w, "notIpBlocks", s.NotIpBlocks);
                Networks(w, "remoteIpBlocks", s.RemoteIpBlocks);
                Networks(w, "notRemoteIpBlocks", s.NotRemoteIpBlocks);
                w.WriteEndObject();
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        if (!rule.To.IsEmpty)
        {
            w.WriteStartArray("to");
            foreach (var o in rule.To)
            {
                w.WriteStartObject();
                w.WriteStartObject("operation");
                NonEmpty(w, "hosts", o.Hosts);
                NonEmpty(w, "notHosts", o.NotHosts);
                PortList(w, "ports", o.Ports);
                PortList(w, "notPorts", o.NotPorts);
                NonEmpty(w, "methods", o.Methods);
                NonEmpty(w, "notMethods", o.NotMethods);
                NonEmpty(w, "paths", o.Paths);
                NonEmpty(w, "notPaths", o.NotPaths);
                w.WriteEndObject();
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        if (!rule.When.IsEmpty)
        {
            w.WriteStartArray("when");
            foreach (var c in rule.When)
            {
                w.WriteStartObject();
                w.WriteString("key", c.Key);
                NonEmpty(w, "values", c.Values);
                NonEmpty(w, "notValues", c.NotValues);
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        w.WriteEndObject();
    }

    private static void Metadata(Utf8JsonWriter w, string name, string @namespace)
    {
        w.WriteStartObject("metadata");
        w.WriteString("name", name);
        w.WriteString("namespace", @namespace);
        w.WriteEndObject();
    }

    private static void Selector(Utf8JsonWriter w, WorkloadSelector selector)
    {
        w.WriteStartObject("selector");
        Labels(w, "matchLabels", selector.MatchLabels);
        w.WriteEndObject();
    }

    private static void Labels(Utf8JsonWriter w, string name, IEnumerable<KeyValuePair<string, string>> labels)
    {
        w.WriteStartObject(name);
        foreach (var (key, value) in labels.OrderBy(kv => kv.Key, StringComparer.Ordinal)) w.WriteString(key, value);
        w.WriteEndObject();
    }

    private static void Ports(Utf8JsonWriter w, string name, ImmutableDictionary<int, int> ports)
    {
        w.WriteStartObject(name);
        foreach (var (port, target) in ports.OrderBy(kv => kv.Key))
            w.WriteNumber(port.ToString(System.Globalization.CultureInfo.InvariantCulture), target);
        w.WriteEndObject();
    }

    private static void Addresses(Utf8JsonWriter w, string name, ImmutableArray<IPAddress> addresses)
    {
        w.WriteStartArray(name);
        foreach (var a in addresses) w.WriteStringValue(a.ToString());
        w.WriteEndArray();
    }

    private static void Strings(Utf8JsonWriter w, string name, ImmutableArray<string> values)
    {
        w.WriteStartArray(name);
        foreach (var v in values) w.WriteStringValue(v);
        w.WriteEndArray();
    }

    private static void NonEmpty(Utf8JsonWriter w, string name, ImmutableArray<string> values)
    {
        if (!values.IsEmpty) Strings(w, name, values);
    }

    private static void Networks(Utf8JsonWriter w, string name, ImmutableArray<IPNetwork> values)
    {
        if (values.IsEmpty) return;
        w.WriteStartArray(name);
        foreach (var v in values) w.WriteStringValue(v.ToString());
        w.WriteEndArray();
    }

    /// <summary>Istio writes ports as strings.</summary>
    private static void PortList(Utf8JsonWriter w, string name, ImmutableArray<int> ports)
    {
        if (ports.IsEmpty) return;
        w.WriteStartArray(name);
        foreach (var p in ports) w.WriteStringValue(p.ToString(System.Globalization.CultureInfo.InvariantCulture));
        w.WriteEndArray();
    }
}
