using Ambient.Config;
using static Ambient.Tests.Config.ConfigTestHelpers;

namespace Ambient.Tests.Config;

/// <summary>One test (or theory) per validation rule, asserting line, column, field path and message.</summary>
public class ConfigValidationTests
{
    // ---- YAML structure -------------------------------------------------------------------------------------

    [Fact]
    public void YamlSyntaxError_IsReportedWithPosition()
    {
        var error = SingleError("""
            workloads:
              - name: sleep
                namespace: default: x
                addresses: [10.0.0.1]
            """);
        Assert.Equal((3, 23, ""), (error.Line, error.Column, error.FieldPath));
        Assert.StartsWith("YAML syntax error: ", error.Message);
        Assert.StartsWith("ambient.yaml:3:23: YAML syntax error: ", error.ToString());
    }

    [Fact]
    public void YamlSyntaxError_UnclosedFlowList_IsReportedWithPosition()
    {
        var error = SingleError("""
            workloads:
              - name: sleep
                namespace: default
                addresses: [10.0.0.1
            services: []
            """);
        Assert.Equal("", error.FieldPath);
        Assert.True(error.Line >= 4, error.ToString());
        Assert.StartsWith("YAML syntax error: ", error.Message);
    }

    [Fact]
    public void YamlSyntaxError_UnterminatedQuote_IsReportedWithPosition()
    {
        var error = SingleError("""
            trustDomain: "cluster.local
            workloads: []
            """);
        Assert.Equal("", error.FieldPath);
        Assert.True(error.Line > 0 && error.Column > 0, error.ToString());
        Assert.StartsWith("YAML syntax error: ", error.Message);
    }

    [Fact]
    public void DuplicateKey_IsReportedAtTheSecondKey()
    {
        AssertSingleError("""
            workloads:
              - name: sleep
                namespace: default
                name: sleep2
                addresses: [10.0.0.1]
            """, 4, 5, "", "YAML syntax error: Duplicate key name");
    }

    [Theory]
    [InlineData("")]
    [InlineData("# just a comment\n")]
    [InlineData("---\n")]
    public void EmptyFile_IsRejected(string yaml)
    {
        var error = SingleError(yaml);
        Assert.Equal("config file is empty (write '{}' for an empty mesh)", error.Message);
        Assert.Equal(1, error.Line);
    }

    [Fact]
    public void RecursiveAlias_IsRejected()
    {
        AssertSingleError("""
            workloads: &loop [*loop]
            """, 1, 12, "", "recursive YAML alias: a node cannot contain itself");
    }

    [Fact]
    public void AliasBomb_IsRejected()
    {
        var yaml = new System.Text.StringBuilder("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for (var i = 1; i <= 7; i++)
        {
            yaml.Append($"a{i}: &a{i} [" + string.Join(", ", Enumerable.Repeat($"*a{i - 1}", 10)) + "]\n");
        }
        var error = SingleError(yaml.ToString());
        Assert.Equal("document is too large after expanding YAML aliases (more than 1000000 nodes)", error.Message);
    }

    [Fact]
    public void Aliases_AreAllowed()
    {
        var config = LoadOk("""
            workloads:
              - name: a
                namespace: default
                addresses: [10.0.0.1]
                labels: &common {team: payments, tier: backend}
              - name: b
                namespace: default
                addresses: [10.0.0.2]
                labels: *common
            """);
        Assert.Equal("payments", config.Workloads[1].Labels["team"]);
    }

    [Fact]
    public void MultipleDocuments_AreRejected()
    {
        AssertSingleError("""
            trustDomain: a.example
            ---
            trustDomain: b.example
            """, 3, 1, "", "expected a single YAML document, found another one ('---') here");
    }

    [Fact]
    public void RootMustBeAMapping()
    {
        AssertSingleError("""
            - name: sleep
            """, 1, 1, "", "expected a mapping, got a list");
    }

    // ---- unknown fields ------------------------------------------------------------------------------------

    [Fact]
    public void UnknownTopLevelField_ListsTheValidOnes()
    {
        AssertSingleError("""
            fooo: 1
            """, 1, 1, "fooo",
            "unknown field 'fooo' (expected one of: trustDomain, workloads, services, authorizationPolicies, peerAuthentications, httpRoutes, grpcRoutes, destinationRules, requestAuthentications)");
    }

    [Theory]
    [InlineData("workload: []", "workload", "workloads")]
    [InlineData("trustdomain: x", "trustdomain", "trustDomain")]
    [InlineData("peerAuthentication: []", "peerAuthentication", "peerAuthentications")]
    public void UnknownTopLevelField_SuggestsTheClosest(string yaml, string field, string suggestion)
    {
        AssertSingleError(yaml, 1, 1, field, $"unknown field '{field}' (did you mean '{suggestion}'?)");
    }

    [Fact]
    public void UnknownNestedField_IsReportedWithSuggestion_AndTheMissingFieldToo()
    {
        var result = Load("""
            workloads:
              - name: sleep
                namespace: default
                adresses: [10.0.0.1]
            """);
        Assert.Equal(["workloads[0]"], result.Config!.RejectedObjects.ToArray());
        Assert.Empty(result.Config.Workloads);
        Assert.Equal(2, result.Errors.Length);
        AssertError(result.Errors[0], 2, 5, "workloads[0].addresses", "missing required field 'addresses'");
        AssertError(result.Errors[1], 4, 5, "workloads[0].adresses", "unknown field 'adresses' (did you mean 'addresses'?)");
    }

    [Fact]
    public void UnknownFieldDeepInAPolicy_IsReported()
    {
        AssertSingleError("""
            authorizationPolicies:
              - metadata: {name: p, namespace: default}
                spec:
                  rules:
                    - from:
                        - source:
                            principal: [cluster.local/ns/default/sa/sleep]
            """, 7, 17, "authorizationPolicies[0].spec.rules[0].from[0].source.principal",
            "unknown field 'principal' (did you mean 'principals'?)");
    }

    // ---- required fields and types --------------------------------------------------------------------------

    [Fact]
    public void MissingRequiredName_PointsAtTheObject()
    {
        AssertSingleError("""
            workloads:
              - namespace: default
                addresses: [10.0.0.1]
            """, 2, 5, "workloads[0].name", "missing required field 'name'");
    }

    [Fact]
    public void EmptyRequiredName_PointsAtTheValue()
    {
        AssertSingleError("""
            workloads:
              - name: ""
                namespace: default
                addresses: [10.0.0.1]
            """, 2, 11, "workloads[0].name", "required field 'name' is empty");
    }

    [Fact]
    public void NullRequiredNamespace_PointsAtTheValue()
    {
        AssertSingleError("""
            services:
              - name: echo
                namespace:
            """, 3, 15, "services[0].namespace", "required field 'namespace' is empty");
    }

    [Fact]
    public void WorkloadNeedsAtLeastOneAddress()
    {
        AssertSingleError("""
            workloads:
              - name: sleep
                namespace: default
                addresses: []
            """, 4, 16, "workloads[0].addresses", "at least one address is required");
    }

    [Theory]
    [InlineData("addresses: 10.0.0.1", 16, "workloads[0].addresses", "expected a list, got a string")]
    [InlineData("addresses: [10.0.0.1]\n    labels: [a, b]", 13, "workloads[0].labels", "expected a mapping, got a list")]
    [InlineData("addresses: [10.0.0.1]\n    node: {a: b}", 11, "workloads[0].node", "expected a string, got a mapping")]
    [InlineData("addresses: [[10.0.0.1]]", 17, "workloads[0].addresses[0]", "expected an IP address, got a list")]
    [InlineData("addresses: [10.0.0.1]\n    services: [default/echo]", 15, "workloads[0].services", "expected a mapping, got a list")]
    public void WrongTypes_AreReported(string lastLines, int column, string path, string message)
    {
        var error = SingleError("workloads:\n  - name: sleep\n    namespace: default\n    " + lastLines);
        AssertError(error, 4 + lastLines.Count(c => c == '\n'), column, path, message);
    }

    [Fact]
    public void ListWhereObjectsExpected_IsATypeError()
    {
        AssertSingleError("""
            workloads: {name: sleep}
            """, 1, 12, "workloads", "expected a list, got a mapping");
        AssertSingleError("""
            services:
              - echo
            """, 2, 5, "services[0]", "expected a mapping, got a string");
        AssertSingleError("""
            trustDomain: [a]
            """, 1, 14, "trustDomain", "expected a string, got a list");
    }

    // ---- IPs, ports and enums -------------------------------------------------------------------------------

    [Fact]
    public void InvalidAddress_IsReportedAtTheItem()
    {
        var error = SingleError("""
            workloads:
              - name: sleep
                namespace: default
                addresses: [10.0.0.1, 10.0.0.300]
            """);
        AssertError(error, 4, 27, "workloads[0].addresses[1]", "'10.0.0.300' is not an IP address");
        Assert.Equal("ambient.yaml:4:27: workloads[0].addresses[1]: '10.0.0.300' is not an IP address", error.ToString());
    }

    [Theory]
    [InlineData("10.1")]          // IPAddress.Parse would accept these two
    [InlineData("167772161")]
    [InlineData("010.0.0.1")]     // leading zero: octal ambiguity
    [InlineData("10.0.0.1/32")]   // a CIDR is not an address
    [InlineData("fe80::1%eth0")]  // zone ids are not allowed
    [InlineData("localhost")]
    public void NonCanonicalAddresses_AreRejected(string address)
    {
        AssertSingleError($"workloads:\n  - name: sleep\n    namespace: default\n    addresses: [\"{address}\"]",
            4, 17, "workloads[0].addresses[0]", $"'{address}' is not an IP address");
    }

    [Fact]
    public void InvalidVip_IsReported()
    {
        AssertSingleError("""
            services:
              - name: echo
                namespace: default
                vips: [10.96.0]
            """, 4, 12, "services[0].vips[0]", "'10.96.0' is not an IP address");
    }

    [Fact]
    public void ServicePorts_AreValidated()
    {
        var result = Load("""
            services:
              - name: echo
                namespace: default
                ports:
                  http: 8080
                  0: 80
                  443: 70000
                  8443: https
            """);
        Assert.Equal(4, result.Errors.Length);
        AssertError(result.Errors[0], 5, 7, "services[0].ports.http", "'http' is not a valid service port (expected a number 1-65535)");
        AssertError(result.Errors[1], 6, 7, "services[0].ports[\"0\"]", "service port 0 is out of range (1-65535)");
        AssertError(result.Errors[2], 7, 12, "services[0].ports[\"443\"]", "target port 70000 is out of range (0-65535)");
        AssertError(result.Errors[3], 8, 13, "services[0].ports[\"8443\"]", "'https' is not a valid target port (expected a number 0-65535)");
    }

    [Fact]
    public void InvalidProtocol_ListsTheValidValues()
    {
        AssertSingleError("workloads:\n  - name: sleep\n    namespace: default\n    addresses: [10.0.0.1]\n    protocol: udp",
            5, 15, "workloads[0].protocol", "'udp' is not a valid protocol (expected one of HBONE, TCP)");
    }

    [Fact]
    public void EnumValues_AreCaseInsensitive()
    {
        var config = LoadOk("""
            workloads:
              - name: sleep
                namespace: default
                addresses: [10.0.0.1]
                protocol: Tcp
            authorizationPolicies:
              - metadata: {name: p, namespace: default}
                spec: {action: deny, rules: [{}]}
            peerAuthentications:
              - metadata: {name: p, namespace: default}
                spec: {mtls: {mode: Strict}}
            """);
        Assert.Equal(WorkloadProtocol.Tcp, config.Workloads[0].Protocol);
        Assert.Equal(AuthorizationAction.Deny, config.AuthorizationPolicies[0].Action);
        Assert.Equal(MtlsMode.Strict, config.PeerAuthentications[0].Mtls);
    }

    [Fact]
    public void InvalidAction_SuggestsTheClosest()
    {
        AssertSingleError("""
            authorizationPolicies:
              - metadata: {name: p, namespace: default}
                spec:
                  action: ALOW
            """, 4, 15, "authorizationPolicies[0].spec.action",
            "'ALOW' is not a valid action (expected one of ALLOW, DENY, AUDIT, CUSTOM; did you mean 'ALLOW'?)");
    }

    [Fact]
    public void Locality_MustHaveAtMostThreeParts()
    {
        AssertSingleError("workloads:\n  - name: sleep\n    namespace: default\n    addresses: [10.0.0.1]\n    locality: a/b/c/d",
            5, 15, "workloads[0].locality", "'a/b/c/d' is not a valid locality (expected \"region/zone/subzone\", at most three parts)");
    }

    // ---- names ----------------------------------------------------------------------------------------------

    [Fact]
    public void Namespace_MustBeADnsLabel()
    {
        var error = SingleError("""
            workloads:
              - name: sleep
                namespace: Default
                addresses: [10.0.0.1]
            """);
        AssertError(error, 3, 16, "workloads[0].namespace", $"'Default' is not a valid namespace: {DnsNamesRule("label")}");
    }

    [Fact]
    public void ServiceName_MustBeAnRfc1035Label()
    {
        var error = SingleError("""
            services:
              - name: 1echo
                namespace: default
            """);
        AssertError(error, 2, 11, "services[0].name", $"'1echo' is not a valid name: {DnsNamesRule("1035")}");
    }

    [Theory]
    [InlineData("echo_1")]
    [InlineData("-echo")]
    [InlineData("Echo")]
    public void WorkloadName_MustBeADnsSubdomain(string name)
    {
        var error = SingleError($"workloads:\n  - name: {name}\n    namespace: default\n    addresses: [10.0.0.1]");
        AssertError(error, 2, 11, "workloads[0].name", $"'{name}' is not a valid name: {DnsNamesRule("subdomain")}");
    }

    [Fact]
    public void ServiceAccount_MustBeADnsSubdomain()
    {
        var error = SingleError("workloads:\n  - name: sleep\n    namespace: default\n    addresses: [10.0.0.1]\n    serviceAccount: my_sa");
        AssertError(error, 5, 21, "workloads[0].serviceAccount", $"'my_sa' is not a valid serviceAccount: {DnsNamesRule("subdomain")}");
    }

    [Fact]
    public void TrustDomain_MustBeLowercase()
    {
        AssertSingleError("trustDomain: Cluster.Local", 1, 14, "trustDomain",
            "'Cluster.Local' is not a valid trustDomain: must be a SPIFFE trust domain: lowercase letters, digits, '.', '-' and '_'");
    }

    [Fact]
    public void Labels_AreValidated()
    {
        var result = Load("""
            workloads:
              - name: sleep
                namespace: default
                addresses: [10.0.0.1]
                labels:
                  -app: x
                  app.kubernetes.io/name: "has space"
            """);
        Assert.Equal(2, result.Errors.Length);
        Assert.Equal((6, 7, "workloads[0].labels[\"-app\"]"), (result.Errors[0].Line, result.Errors[0].Column, result.Errors[0].FieldPath));
        Assert.StartsWith("'-app' is not a valid label key", result.Errors[0].Message);
        Assert.Equal((7, 31, "workloads[0].labels[\"app.kubernetes.io/name\"]"), (result.Errors[1].Line, result.Errors[1].Column, result.Errors[1].FieldPath));
        Assert.StartsWith("'has space' is not a valid label value", result.Errors[1].Message);
    }

    private static string DnsNamesRule(string kind) => kind switch
    {
        "label" => "must be a lowercase RFC 1123 label: at most 63 characters of a-z, 0-9 and '-', starting and ending with a letter or digit",
        "1035" => "must be a lowercase RFC 1035 label: at most 63 characters of a-z, 0-9 and '-', starting with a letter and ending with a letter or digit",
        _ => "must be a lowercase RFC 1123 subdomain: at most 253 characters of dot-separated labels of a-z, 0-9 and '-', each starting and ending with a letter or digit",
    };

    // ---- cross-object checks --------------------------------------------------------------------------------

    [Fact]
    public void DuplicateWorkloadUid_IsReportedAtTheSecond()
    {
        AssertSingleError("""
            workloads:
              - name: a
                namespace: default
                addresses: [10.0.0.1]
              - name: b
                namespace: default
                uid: default/a
                addresses: [10.0.0.2]
            """, 7, 10, "workloads[1].uid", "duplicate workload uid 'default/a' (already used by workloads[0] at line 2)");
    }

    [Fact]
    public void DuplicateDefaultedUid_PointsAtTheName()
    {
        AssertSingleError("""
            workloads:
              - name: a
                namespace: default
                addresses: [10.0.0.1]
              - name: a
                namespace: default
                addresses: [10.0.0.2]
            """, 5, 11, "workloads[1].name", "duplicate workload uid 'default/a' (already used by workloads[0] at line 2)");
    }

    [Fact]
    public void DuplicateAddressAcrossWorkloads_IsReported()
    {
        AssertSingleError("""
            workloads:
              - name: a
                namespace: default
                addresses: [10.0.0.1]
              - name: b
                namespace: default
                addresses: [10.0.0.2, 10.0.0.1]
            """, 7, 27, "workloads[1].addresses[1]", "address 10.0.0.1 is already used by workloads[0].addresses[0] at line 4");
    }

    [Fact]
    public void DuplicateAddress_IncludingIpv4MappedForm_IsReported()
    {
        AssertSingleError("""
            workloads:
              - name: a
                namespace: default
                addresses: [10.0.0.1, "::ffff:10.0.0.1"]
            """, 4, 27, "workloads[0].addresses[1]", "address 10.0.0.1 is already used by workloads[0].addresses[0] at line 4");
    }

    [Fact]
    public void SameAddressInDifferentNetworks_IsAllowed()
    {
        var config = LoadOk("""
            workloads:
              - name: a
                namespace: default
                addresses: [10.0.0.1]
              - name: b
                namespace: default
                network: remote
                addresses: [10.0.0.1]
            """);
        Assert.Equal(2, config.Workloads.Length);
    }

    [Fact]
    public void DuplicateServiceHostname_IsReported()
    {
        AssertSingleError("""
            services:
              - name: echo
                namespace: default
              - name: echo2
                namespace: default
                hostname: echo.default.svc.cluster.local
            """, 6, 15, "services[1].hostname",
            "duplicate service 'default/echo.default.svc.cluster.local' (namespace/hostname already defined by services[0] at line 2)");
    }

    [Fact]
    public void DuplicateServiceName_IsReported()
    {
        AssertSingleError("""
            services:
              - name: echo
                namespace: default
              - name: echo
                namespace: default
                hostname: echo.example.com
            """, 4, 11, "services[1].name", "duplicate service name 'default/echo' (already defined by services[0] at line 2)");
    }

    [Fact]
    public void SameServiceNameInAnotherNamespace_IsAllowed()
    {
        var config = LoadOk("""
            services:
              - {name: echo, namespace: default}
              - {name: echo, namespace: other}
            """);
        Assert.Equal("echo.other.svc.cluster.local", config.Services[1].Hostname);
    }

    [Fact]
    public void DuplicateVip_IsReported()
    {
        AssertSingleError("""
            services:
              - name: a
                namespace: default
                vips: [10.96.0.1]
              - name: b
                namespace: default
                vips: [10.96.0.2, 10.96.0.1]
            """, 7, 23, "services[1].vips[1]",
            "VIP 10.96.0.1 is already used by service 'default/a.default.svc.cluster.local' (services[0].vips[0] at line 4)");
    }

    [Fact]
    public void WorkloadServiceReferences_AreResolved()
    {
        var result = Load("""
            services:
              - name: echo
                namespace: default
                ports: {80: 8080}
            workloads:
              - name: a
                namespace: default
                addresses: [10.0.0.1]
                services:
                  default/ecko: {80: 8080}
                  default/echo: {81: 8080}
                  echo: {}
            """);
        Assert.Equal(3, result.Errors.Length);
        Assert.Equal(["workloads[0]"], result.Config!.RejectedObjects.ToArray());
        AssertError(result.Errors[0], 10, 7, "workloads[0].services[\"default/ecko\"]", "unknown service 'default/ecko' (did you mean 'default/echo'?)");
        AssertError(result.Errors[1], 11, 22, "workloads[0].services[\"default/echo\"][\"81\"]",
            "service 'default/echo.default.svc.cluster.local' has no port 81 (its ports are 80)");
        AssertError(result.Errors[2], 12, 7, "workloads[0].services.echo",
            "service reference 'echo' must be \"<namespace>/<hostname>\" (or \"<namespace>/<service name>\")");
    }

    [Fact]
    public void ServiceListedTwice_ByNameAndHostname_IsReported()
    {
        AssertSingleError("""
            services:
              - {name: echo, namespace: default}
            workloads:
              - name: a
                namespace: default
                addresses: [10.0.0.1]
                services:
                  default/echo: {}
                  default/echo.default.svc.cluster.local: {}
            """, 9, 7, "workloads[0].services[\"default/echo.default.svc.cluster.local\"]",
            "service 'default/echo.default.svc.cluster.local' is listed twice (also as 'default/echo' at line 8)");
    }

    [Fact]
    public void UnknownWaypoint_IsReported()
    {
        var result = Load("""
            services:
              - name: waypoint
                namespace: default
              - name: echo
                namespace: default
                waypoint: waypointt
            workloads:
              - name: a
                namespace: default
                addresses: [10.0.0.1]
                waypoint: {name: waypoint, namespace: other}
            """);
        Assert.Equal(2, result.Errors.Length);
        AssertError(result.Errors[0], 6, 15, "services[1].waypoint", "waypoint 'default/waypointt' is not a service defined in this file (did you mean 'default/waypoint'?)");
        AssertError(result.Errors[1], 11, 15, "workloads[0].waypoint", "waypoint 'other/waypoint' is not a service defined in this file");
    }

    // ---- many errors at once -------------------------------------------------------------------------------

    [Fact]
    public void ManyErrors_AreAllReportedInOnePass_SortedByPosition()
    {
        var result = Load("""
            trustDomain: Bad_Domain
            workloads:
              - name: sleep
                namespace: default
                addresses: [10.0.0.300]
                protocol: quic
              - name: echo
                namespace: default
                addresses: [10.0.0.2]
                colour: blue
              - namespace: default
                addresses: [10.0.0.2]
            services:
              - name: echo
                namespace: default
                vips: [not-an-ip]
                ports: {80: eighty}
            authorizationPolicies:
              - metadata: {name: p, namespace: default}
                spec:
                  action: PERMIT
                  rules:
                    - from:
                        - source: {ipBlocks: [1.2.3.4/40]}
            peerAuthentications:
              - metadata: {name: p}
                spec: {mtls: {mode: STRIKT}}
            """);
        Assert.Null(result.Config);
        var summary = result.Errors.Select(e => $"{e.Line}:{e.Column} {e.FieldPath}").ToArray();
        Assert.Equal(
        [
            "1:14 trustDomain",
            "5:17 workloads[0].addresses[0]",
            "6:15 workloads[0].protocol",
            "10:5 workloads[1].colour",
            "11:5 workloads[2].name",
            "16:12 services[0].vips[0]",
            "17:17 services[0].ports[\"80\"]",
            "21:15 authorizationPolicies[0].spec.action",
            "24:35 authorizationPolicies[0].spec.rules[0].from[0].source.ipBlocks[0]",
            "26:15 peerAuthentications[0].metadata.namespace",
            "27:25 peerAuthentications[0].spec.mtls.mode",
        ], summary);
        Assert.Equal(["workloads[0]", "workloads[1]", "workloads[2]"], result.Errors.Select(e => e.ObjectPath).Where(p => p.StartsWith("workloads")).Distinct().ToArray());
    }

    [Fact]
    public void ObjectWithFieldErrors_IsCrossCheckedForItsReport_ButRejectedAlone()
    {
        // workloads[1] has a bad protocol: its duplicate address is reported too, and workloads[0] stays.
        var result = Load("""
            workloads:
              - name: a
                namespace: default
                addresses: [10.0.0.1]
              - name: b
                namespace: default
                addresses: [10.0.0.1]
                protocol: udp
            """);
        Assert.Equal(["7:17", "8:15"], result.Errors.Select(e => $"{e.Line}:{e.Column}").ToArray());
        Assert.Equal(["default/a"], result.Config!.Workloads.Select(w => w.Uid).ToArray());
    }

    [Fact]
    public void RejectingAService_RejectsTheWorkloadsThatReferToIt_AndNothingElse()
    {
        var result = Load("""
            services:
              - name: echo
                namespace: default
                vips: [10.96.0.300]
                ports: {80: 8080}
              - name: other
                namespace: default
                ports: {80: 8080}
            workloads:
              - name: a
                namespace: default
                addresses: [10.0.0.1]
                services: {default/echo: {80: 8080}}
              - name: b
                namespace: default
                addresses: [10.0.0.2]
                services: {default/other: {80: 8080}}
            authorizationPolicies:
              - metadata: {name: deny-all, namespace: default}
                spec: {action: DENY, rules: [{}]}
            """);
        Assert.Equal(["services[0].vips[0]", "workloads[0].services[\"default/echo\"]"], result.Errors.Select(e => e.FieldPath).ToArray());
        var config = result.Config!;
        Assert.Equal(["services[0]", "workloads[0]"], config.RejectedObjects.ToArray());
        Assert.Equal(["other"], config.Services.Select(s => s.Name).ToArray());
        Assert.Equal(["default/b"], config.Workloads.Select(w => w.Uid).ToArray());
        Assert.Single(config.AuthorizationPolicies);
    }

    [Theory]
    [InlineData("trustDomain: 'bad domain!'\n")]
    [InlineData("workloadz: []\n")]
    [InlineData("workloads: {a: b}\n")]
    [InlineData("workloads: [\n")]
    public void FileLevelErrors_RejectTheWholeFile(string yaml)
    {
        var result = Load(yaml + "services:\n  - {name: ok, namespace: default}\n");
        Assert.Null(result.Config);
        Assert.NotEmpty(result.Errors);
    }

    [Fact]
    public void An_invalid_route_or_destination_rule_is_rejected_alone_with_object_and_field_named()
    {
        var result = Load("""
            httpRoutes:
              - metadata: {name: good, namespace: default}
                spec:
                  parentRefs: [{group: "", kind: Service, name: reviews}]
                  rules: [{backendRefs: [{name: reviews, port: 80}]}]
              - metadata: {name: bad, namespace: default}
                spec:
                  parentRefs: [{group: "", kind: Service, name: reviews}]
                  rules: [{backendRefs: [{name: reviews, port: 80, weight: -1}]}]
            destinationRules:
              - metadata: {name: reviews, namespace: default}
                spec: {host: reviews, trafficPolicy: {connectionPool: {http: {http1MaxPendingRequests: many}}}}
            """);
        var config = result.Config!;
        Assert.Equal(["destinationRules[0]", "httpRoutes[1]"], config.RejectedObjects.ToArray());
        Assert.Equal(["good"], config.HttpRoutes.Select(r => r.Name).ToArray());
        Assert.Empty(config.DestinationRules);
        Assert.Contains(result.Errors, e => e.FieldPath == "httpRoutes[1].spec.rules[0].backendRefs[0].weight");
        Assert.Contains(result.Errors, e => e.FieldPath.StartsWith("destinationRules[0].spec.trafficPolicy.connectionPool.http.http1MaxPendingRequests", StringComparison.Ordinal));
    }
}
