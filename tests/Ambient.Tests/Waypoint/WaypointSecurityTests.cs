using System.Net;
using System.Net.Http.Headers;

namespace Ambient.Tests.Waypoint;

/// <summary>L7 AuthorizationPolicy and RequestAuthentication (JWT) applied by a real waypoint.</summary>
[Collection("waypoint-bed")]
public sealed class WaypointSecurityTests(WaypointBed bed) : IAsyncLifetime
{
    private static readonly JwtFixture Jwt = JwtFixture.Instance;

    private static readonly string Yaml = $$$"""
        authorizationPolicies:
          - metadata: {name: reviews-read-only, namespace: default}
            spec:
              targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: waypoint}]
              action: ALLOW
              rules:
                - from: [{source: {principals: ["cluster.local/ns/default/sa/sleep"]}}]
                  to: [{operation: {methods: [GET], notPaths: ["/jwt*"]}}]
          - metadata: {name: reviews-jwt, namespace: default}
            spec:
              targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: waypoint}]
              action: ALLOW
              rules:
                - from: [{source: {requestPrincipals: ["https://issuer/alice"]}}]
                  to: [{operation: {paths: ["/jwt*"]}}]
        requestAuthentications:
          - metadata: {name: issuer, namespace: default}
            spec:
              targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: waypoint}]
              jwtRules:
                - issuer: https://issuer
                  jwks: '{"keys": [{{{JwtFixture.RsaJwk(Jwt.Rsa, "rsa-1")}}}]}'

        """;

    public Task InitializeAsync() => bed.ApplyAsync(Yaml);

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Get_is_allowed_and_delete_denied_for_the_principal_and_other_principals_are_denied()
    {
        using var sleep = bed.Client(bed.Sleep);
        using (var get = await sleep.GetAsync("/"))
            Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        using (var delete = await sleep.DeleteAsync("/"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, delete.StatusCode);
            Assert.Equal("RBAC: access denied", await delete.Content.ReadAsStringAsync());
        }
        using var intruder = bed.Client(bed.Intruder);
        using (var get = await intruder.GetAsync("/"))
            Assert.Equal(HttpStatusCode.Forbidden, get.StatusCode);
        Assert.Equal(1, bed.AppV1.Requests + bed.AppV2.Requests); // only the allowed request reached an application
    }

    [Fact]
    public async Task An_invalid_JWT_is_rejected_with_401_a_valid_one_accepted_and_none_is_not_enough()
    {
        using var client = bed.Client(bed.Intruder);
        async Task<HttpStatusCode> Call(string? token)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/jwt");
            if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var response = await client.SendAsync(request);
            return response.StatusCode;
        }
        var valid = Jwt.Sign(Jwt.Claims(sub: "alice", exp: DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds()));
        var expired = Jwt.Sign(Jwt.Claims(sub: "alice", exp: DateTimeOffset.UtcNow.AddHours(-1).ToUnixTimeSeconds()));
        var forged = Jwt.Sign(Jwt.Claims(sub: "alice", exp: DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds()), rsa: Jwt.OtherRsa);
        var bob = Jwt.Sign(Jwt.Claims(sub: "bob", exp: DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds()));

        Assert.Equal(HttpStatusCode.OK, await Call(valid));
        Assert.Equal(HttpStatusCode.Unauthorized, await Call(expired));
        Assert.Equal(HttpStatusCode.Unauthorized, await Call(forged));
        Assert.Equal(HttpStatusCode.Unauthorized, await Call("not.a.jwt"));
        // Istio semantics: no token passes authentication, and the policy wanting a request principal then denies.
        Assert.Equal(HttpStatusCode.Forbidden, await Call(null));
        Assert.Equal(HttpStatusCode.Forbidden, await Call(bob));
    }
}
