using System.Collections.Immutable;
using System.Net;
using Ambient.Authorization;
using Ambient.Config;

namespace Ambient.Tests.Authorization;

public class L4AuthorizerTests
{
    private static readonly Workload Echo = new()
    {
        Uid = "default/echo", Name = "echo", Namespace = "default", ServiceAccount = "echo",
        Addresses = [IPAddress.Parse("10.0.0.2")],
    };

    private static ConnectionFacts From(string? identity, string ip = "10.0.0.1", int port = 8080)
        => new(identity, IPAddress.Parse(ip), Echo, IPAddress.Parse("10.0.0.2"), port);

    private const string Sleep = "spiffe://cluster.local/ns/default/sa/sleep";
    private const string Other = "spiffe://cluster.local/ns/other/sa/curl";

    private static AuthorizationPolicy Policy(AuthorizationAction action, params AuthorizationRule[] rules)
        => new() { Name = "p", Namespace = "default", Action = action, Rules = [.. rules] };

    private static AuthorizationRule FromSource(PolicySource s) => new() { From = [s] };
    private static AuthorizationRule ToOp(PolicyOperation o) => new() { To = [o] };

    [Fact]
    public void No_policies_allow()
        => Assert.True(L4Authorizer.Evaluate([], From(Sleep)).Allowed);

    [Fact]
    public void Allow_with_no_rules_denies_everything()
        => Assert.False(L4Authorizer.Evaluate([Policy(AuthorizationAction.Allow)], From(Sleep)).Allowed);

    [Fact]
    public void Allow_with_an_empty_rule_allows_everything()
        => Assert.True(L4Authorizer.Evaluate([Policy(AuthorizationAction.Allow, new AuthorizationRule())], From(null)).Allowed);

    public static TheoryData<PolicySource, string?, string, bool> Sources => new()
    {
        { new() { Principals = ["cluster.local/ns/default/sa/sleep"] }, Sleep, "10.0.0.1", true },
        { new() { Principals = ["cluster.local/ns/default/sa/sleep"] }, Other, "10.0.0.1", false },
        { new() { Principals = ["cluster.local/ns/default/sa/sleep"] }, null, "10.0.0.1", false },
        { new() { Principals = ["*"] }, Sleep, "10.0.0.1", true },
        { new() { Principals = ["*"] }, null, "10.0.0.1", false },
        { new() { Principals = ["cluster.local/ns/default/*"] }, Sleep, "10.0.0.1", true },
        { new() { Principals = ["*/sa/curl"] }, Other, "10.0.0.1", true },
        { new() { Principals = ["*/sa/curl"] }, Sleep, "10.0.0.1", false },
        { new() { NotPrincipals = ["cluster.local/ns/default/sa/sleep"] }, Sleep, "10.0.0.1", false },
        { new() { NotPrincipals = ["cluster.local/ns/default/sa/sleep"] }, Other, "10.0.0.1", true },
        { new() { Namespaces = ["default"] }, Sleep, "10.0.0.1", true },
        { new() { Namespaces = ["default"] }, Other, "10.0.0.1", false },
        { new() { NotNamespaces = ["other"] }, Other, "10.0.0.1", false },
        { new() { NotNamespaces = ["other"] }, Sleep, "10.0.0.1", true },
        { new() { IpBlocks = [IPNetwork.Parse("10.0.0.0/24")] }, null, "10.0.0.1", true },
        { new() { IpBlocks = [IPNetwork.Parse("10.0.1.0/24")] }, null, "10.0.0.1", false },
        { new() { NotIpBlocks = [IPNetwork.Parse("10.0.0.1/32")] }, null, "10.0.0.1", false },
        { new() { RemoteIpBlocks = [IPNetwork.Parse("10.0.0.0/8")] }, null, "10.0.0.1", true },
        { new() { NotRemoteIpBlocks = [IPNetwork.Parse("10.0.0.0/8")] }, null, "10.0.0.1", false },
        // HTTP-only source field: an ALLOW rule using it cannot match at L4.
        { new() { RequestPrincipals = ["*"] }, Sleep, "10.0.0.1", false },
    };

    [Theory]
    [MemberData(nameof(Sources))]
    public void Allow_source_fields(PolicySource source, string? identity, string ip, bool allowed)
        => Assert.Equal(allowed, L4Authorizer.Evaluate([Policy(AuthorizationAction.Allow, FromSource(source))], From(identity, ip)).Allowed);

    [Theory]
    [InlineData(8080, true)]
    [InlineData(9090, false)]
    public void Allow_ports(int port, bool allowed)
        => Assert.Equal(allowed, L4Authorizer.Evaluate([Policy(AuthorizationAction.Allow, ToOp(new() { Ports = [8080] }))], From(Sleep, port: port)).Allowed);

    [Theory]
    [InlineData(8080, false)]
    [InlineData(9090, true)]
    public void Allow_not_ports(int port, bool allowed)
        => Assert.Equal(allowed, L4Authorizer.Evaluate([Policy(AuthorizationAction.Allow, ToOp(new() { NotPorts = [8080] }))], From(Sleep, port: port)).Allowed);

    [Fact]
    public void Allow_rule_with_http_operation_never_matches_at_l4()
        => Assert.False(L4Authorizer.Evaluate([Policy(AuthorizationAction.Allow, ToOp(new() { Methods = ["GET"] }))], From(Sleep)).Allowed);

    [Fact]
    public void Deny_rule_with_http_operation_drops_it_and_denies_more()
    {
        var decision = L4Authorizer.Evaluate([Policy(AuthorizationAction.Deny, new AuthorizationRule
        {
            From = [new() { Principals = ["cluster.local/ns/default/sa/sleep"] }],
            To = [new() { Methods = ["DELETE"], Ports = [8080] }],
        })], From(Sleep));
        Assert.False(decision.Allowed);
        Assert.Contains("DENY policy default/p", decision.Reason);
    }

    [Fact]
    public void Deny_takes_precedence_over_allow()
    {
        AuthorizationPolicy[] policies =
        [
            Policy(AuthorizationAction.Allow, new AuthorizationRule()),
            Policy(AuthorizationAction.Deny, FromSource(new() { Namespaces = ["default"] })),
        ];
        Assert.False(L4Authorizer.Evaluate(policies, From(Sleep)).Allowed);
        Assert.True(L4Authorizer.Evaluate(policies, From(Other)).Allowed);
    }

    [Fact]
    public void Audit_and_custom_do_not_decide()
    {
        AuthorizationPolicy[] policies = [Policy(AuthorizationAction.Audit, new AuthorizationRule()), Policy(AuthorizationAction.Custom, new AuthorizationRule())];
        Assert.True(L4Authorizer.Evaluate(policies, From(Sleep)).Allowed);
    }

    [Theory]
    [InlineData("source.ip", "10.0.0.0/24", true)]
    [InlineData("source.ip", "10.0.0.1", true)]
    [InlineData("source.ip", "10.0.9.0/24", false)]
    [InlineData("source.namespace", "default", true)]
    [InlineData("source.principal", "cluster.local/ns/default/*", true)]
    [InlineData("destination.port", "8080", true)]
    [InlineData("destination.port", "80", false)]
    [InlineData("destination.ip", "10.0.0.2", true)]
    [InlineData("request.headers[x-user]", "tester", false)] // HTTP-only: never matches in ALLOW
    public void Allow_when_conditions(string key, string value, bool allowed)
    {
        var rule = new AuthorizationRule { When = [new PolicyCondition { Key = key, Values = [value] }] };
        Assert.Equal(allowed, L4Authorizer.Evaluate([Policy(AuthorizationAction.Allow, rule)], From(Sleep)).Allowed);
    }

    [Fact]
    public void Not_values_exclude()
    {
        var rule = new AuthorizationRule { When = [new PolicyCondition { Key = "source.namespace", NotValues = ["default"] }] };
        Assert.False(L4Authorizer.Evaluate([Policy(AuthorizationAction.Allow, rule)], From(Sleep)).Allowed);
        Assert.True(L4Authorizer.Evaluate([Policy(AuthorizationAction.Allow, rule)], From(Other)).Allowed);
    }

    [Fact]
    public void From_entries_are_ored_and_fields_within_one_are_anded()
    {
        var rule = new AuthorizationRule
        {
            From =
            [
                new() { Namespaces = ["default"], IpBlocks = [IPNetwork.Parse("192.168.0.0/16")] },
                new() { Principals = ["cluster.local/ns/other/sa/curl"] },
            ],
        };
        var policies = new[] { Policy(AuthorizationAction.Allow, rule) };
        Assert.False(L4Authorizer.Evaluate(policies, From(Sleep, "10.0.0.1")).Allowed);
        Assert.True(L4Authorizer.Evaluate(policies, From(Sleep, "192.168.1.1")).Allowed);
        Assert.True(L4Authorizer.Evaluate(policies, From(Other, "10.0.0.1")).Allowed);
    }

    [Theory]
    [InlineData("*", "anything", true)]
    [InlineData("abc*", "abcdef", true)]
    [InlineData("abc*", "xabc", false)]
    [InlineData("*def", "abcdef", true)]
    [InlineData("*def", "defx", false)]
    [InlineData("exact", "exact", true)]
    [InlineData("exact", "exactly", false)]
    public void Istio_string_matching(string pattern, string value, bool match)
        => Assert.Equal(match, L4Authorizer.StringMatch(pattern, value));
}
