using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Ambient.Config.Routes;
using Ambient.Waypoint.Routing;
using Ambient.Waypoint.Security;
using Microsoft.AspNetCore.Http;

namespace Ambient.Tests.Waypoint;

/// <summary>Keys and tokens made in the test, so nothing depends on fixtures.</summary>
internal sealed class JwtFixture
{
    public static readonly JwtFixture Instance = new();

    public RSA Rsa { get; } = RSA.Create(2048);
    public RSA OtherRsa { get; } = RSA.Create(2048);
    public ECDsa Ec { get; } = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    public ECDsa Ec384 { get; } = ECDsa.Create(ECCurve.NamedCurves.nistP384);
    public DateTimeOffset Now { get; } = new(2026, 6, 1, 12, 0, 0, TimeSpan.Zero);

    public string Jwks => $$"""{"keys": [{{RsaJwk(Rsa, "rsa-1")}}, {{EcJwk(Ec, "P-256", "ec-1")}}, {{EcJwk(Ec384, "P-384", "ec-2")}}, {"kty": "oct", "k": "c2VjcmV0"}]}""";

    public static string B64(byte[] bytes) => Base64Url.EncodeToString(bytes);

    public static string RsaJwk(RSA rsa, string kid)
    {
        var p = rsa.ExportParameters(false);
        return $$"""{"kty": "RSA", "kid": "{{kid}}", "use": "sig", "n": "{{B64(p.Modulus!)}}", "e": "{{B64(p.Exponent!)}}"}""";
    }

    public static string EcJwk(ECDsa ec, string crv, string kid)
    {
        var p = ec.ExportParameters(false);
        return $$"""{"kty": "EC", "kid": "{{kid}}", "crv": "{{crv}}", "x": "{{B64(p.Q.X!)}}", "y": "{{B64(p.Q.Y!)}}"}""";
    }

    public string Claims(string iss = "https://issuer", string sub = "alice", object? aud = null, long? exp = null, long? nbf = null, string extra = "")
    {
        var parts = new List<string> { $"\"iss\": \"{iss}\"", $"\"sub\": \"{sub}\"" };
        if (aud is string a) parts.Add($"\"aud\": \"{a}\"");
        if (aud is string[] many) parts.Add($"\"aud\": [{string.Join(", ", many.Select(x => $"\"{x}\""))}]");
        parts.Add($"\"exp\": {exp ?? Now.AddHours(1).ToUnixTimeSeconds()}");
        if (nbf is { } n) parts.Add($"\"nbf\": {n}");
        if (extra.Length > 0) parts.Add(extra);
        return "{" + string.Join(", ", parts) + "}";
    }

    public string Sign(string claims, string alg = "RS256", string? kid = "rsa-1", RSA? rsa = null, ECDsa? ec = null)
    {
        var header = kid is null ? $$"""{"alg": "{{alg}}", "typ": "JWT"}""" : $$"""{"alg": "{{alg}}", "kid": "{{kid}}"}""";
        var input = B64(Encoding.UTF8.GetBytes(header)) + "." + B64(Encoding.UTF8.GetBytes(claims));
        var data = Encoding.ASCII.GetBytes(input);
        var hash = alg[2..] switch { "384" => HashAlgorithmName.SHA384, "512" => HashAlgorithmName.SHA512, _ => HashAlgorithmName.SHA256 };
        byte[] signature = alg[0] switch
        {
            'R' => (rsa ?? Rsa).SignData(data, hash, RSASignaturePadding.Pkcs1),
            'P' => (rsa ?? Rsa).SignData(data, hash, RSASignaturePadding.Pss),
            'E' => (ec ?? Ec).SignData(data, hash),
            _ => [1, 2, 3],
        };
        return input + "." + B64(signature);
    }
}

public class JwtValidatorTests
{
    private static readonly JwtFixture F = JwtFixture.Instance;
    private static readonly JwtRule Rule = new() { Issuer = "https://issuer", Audiences = ["api", "web"] };
    private static JsonWebKeySet Keys => JsonWebKeySet.TryParse(F.Jwks, out _)!;

    private static string? Error(string token, JwtRule? rule = null, DateTimeOffset? now = null)
    {
        var parsed = JwtToken.TryParse(token, out var parseError);
        if (parsed is null) return "parse: " + parseError;
        var identity = JwtValidator.Validate(parsed, rule ?? Rule, Keys, now ?? F.Now, out var error);
        Assert.Equal(identity is null, error is not null);
        return error;
    }

    [Theory]
    [InlineData("RS256", "rsa-1")]
    [InlineData("RS384", "rsa-1")]
    [InlineData("RS512", null)]
    [InlineData("PS256", "rsa-1")]
    [InlineData("PS512", null)]
    [InlineData("ES256", "ec-1")]
    [InlineData("ES256", null)]
    public void SupportedAlgorithms_Verify(string alg, string? kid) =>
        Assert.Null(Error(F.Sign(F.Claims(aud: "api"), alg, kid)));

    [Fact]
    public void ES384_UsesTheP384Key() =>
        Assert.Null(Error(F.Sign(F.Claims(aud: "api"), "ES384", "ec-2", ec: F.Ec384)));

    [Fact]
    public void ValidToken_GivesIdentity()
    {
        var token = JwtToken.TryParse(F.Sign(F.Claims(aud: new[] { "x", "web" }, extra: "\"azp\": \"spa\", \"groups\": [\"a\"]")), out _)!;
        var identity = JwtValidator.Validate(token, Rule, Keys, F.Now, out _)!;
        Assert.Equal("https://issuer/alice", identity.Principal);
        Assert.Equal(new[] { "x", "web" }, identity.Audiences.AsEnumerable());
        Assert.Equal("spa", identity.Presenter);
        Assert.Equal(JsonValueKind.Array, identity.Claims.GetProperty("groups").ValueKind);
    }

    public static TheoryData<string, string> InvalidTokens
    {
        get
        {
            var good = F.Sign(F.Claims(aud: "api"));
            var parts = good.Split('.');
            var tamperedClaims = JwtFixture.B64(Encoding.UTF8.GetBytes(F.Claims(sub: "mallory", aud: "api")));
            return new()
            {
                { F.Sign(F.Claims(aud: "api"), rsa: F.OtherRsa), "signature does not verify" },
                { F.Sign(F.Claims(aud: "api"), kid: "rsa-unknown"), "signature does not verify" },
                { F.Sign(F.Claims(aud: "api"), "ES256", "rsa-1"), "signature does not verify" }, // kid names an RSA key
                { F.Sign(F.Claims(aud: "api"), "ES512", "ec-1"), "signature does not verify" }, // curve does not fit
                { $"{parts[0]}.{tamperedClaims}.{parts[2]}", "signature does not verify" },
                { F.Sign(F.Claims(aud: "api"), "none", null), "algorithm 'none' is not supported" },
                { F.Sign(F.Claims(aud: "api"), "HS256", null), "algorithm 'HS256' is not supported" },
                { F.Sign(F.Claims(iss: "https://evil", aud: "api")), "issuer 'https://evil' is not 'https://issuer'" },
                { F.Sign(F.Claims(aud: "other")), "audience is not allowed" },
                { F.Sign(F.Claims()), "audience is not allowed" },
                { F.Sign(F.Claims(aud: "api", exp: F.Now.AddSeconds(-61).ToUnixTimeSeconds())), "expired" },
                { F.Sign(F.Claims(aud: "api", nbf: F.Now.AddSeconds(61).ToUnixTimeSeconds())), "not yet valid" },
                { F.Sign(F.Claims(aud: "api", extra: "\"iat\": 1").Replace("\"exp\": ", "\"exp\": \"x").Replace(", \"iat\"", "\", \"iat\"")), "'exp' is not a number" },
                { "abc", "parse: token is not a compact JWS" },
                { "a.b.c.d", "parse: token is not a compact JWS" },
                { ".a.b", "parse: token is not a compact JWS" },
                { "a!.b.c", "parse: token is not valid base64url" },
                { $"{JwtFixture.B64("[]"u8.ToArray())}.{parts[1]}.{parts[2]}", "parse: token header has no 'alg'" },
                { $"{parts[0]}.{JwtFixture.B64("[1]"u8.ToArray())}.{parts[2]}", "parse: token payload is not a JSON object" },
                { $"{parts[0]}.{JwtFixture.B64("{"u8.ToArray())}.{parts[2]}", "parse: token header or payload is not valid JSON" },
            };
        }
    }

    [Theory]
    [MemberData(nameof(InvalidTokens))]
    public void InvalidTokens_AreRejected(string token, string fragment) => Assert.Contains(fragment, Error(token) ?? "(valid)");

    [Fact]
    public void ClockSkew_SixtySeconds()
    {
        Assert.Null(Error(F.Sign(F.Claims(aud: "api", exp: F.Now.AddSeconds(-59).ToUnixTimeSeconds()))));
        Assert.Null(Error(F.Sign(F.Claims(aud: "api", nbf: F.Now.AddSeconds(59).ToUnixTimeSeconds()))));
    }

    [Fact]
    public void NoAudiencesInRule_AcceptsAny() =>
        Assert.Null(Error(F.Sign(F.Claims(aud: "whatever")), new JwtRule { Issuer = "https://issuer" }));

    [Fact]
    public void OversizedToken_IsRefusedBeforeDecoding()
    {
        Assert.Null(JwtToken.TryParse(new string('a', JwtToken.MaxLength + 1), out var error));
        Assert.Equal("token is too large", error);
    }

    [Theory]
    [InlineData("{}", "'keys' list")]
    [InlineData("{\"keys\": [1]}", "keys[0]: a key must be a JSON object")]
    [InlineData("{\"keys\": [{\"kty\": \"RSA\", \"n\": \"AQAB\"}]}", "keys[0]: RSA key needs")]
    [InlineData("{\"keys\": [{\"kty\": \"RSA\", \"n\": \"AQAB\", \"e\": \"AQAB\"}]}", "at least 2048")]
    [InlineData("{\"keys\": [{\"kty\": \"EC\", \"crv\": \"P-192\", \"x\": \"AQAB\", \"y\": \"AQAB\"}]}", "EC key needs")]
    [InlineData("{\"keys\": [{\"kty\": \"EC\", \"crv\": \"P-256\", \"x\": \"AQAB\", \"y\": \"AQAB\"}]}", "invalid EC key")]
    [InlineData("nope", "not valid JSON")]
    public void InvalidJwks_IsReported(string json, string fragment)
    {
        Assert.Null(JsonWebKeySet.TryParse(json, out var error));
        Assert.Contains(fragment, error);
    }

    [Fact]
    public void Jwks_SkipsUnsupportedAndEncryptionKeys()
    {
        var keys = JsonWebKeySet.TryParse($$"""{"keys": [{"kty": "oct", "k": "AA"}, {"kty": "OKP", "crv": "Ed25519", "x": "AA"}, {{JwtFixture.RsaJwk(F.Rsa, "a").Replace("\"sig\"", "\"enc\"")}}, {{JwtFixture.RsaJwk(F.Rsa, "b")}}]}""", out var error)!;
        Assert.Null(error);
        Assert.Equal(new[] { "b" }, (keys.Keys.Select(k => k.KeyId)).AsEnumerable());
    }
}

public class JwtAuthenticatorTests
{
    private static readonly JwtFixture F = JwtFixture.Instance;

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    private static RequestAuthentication Policy(params JwtRule[] rules) => new() { Name = "jwt", Namespace = "foo", JwtRules = [.. rules] };

    private static JwtAuthenticator Authenticator(params JwtRule[] rules)
    {
        var authenticator = JwtAuthenticator.Build([Policy(rules)], null, new FixedClock(F.Now), out var errors);
        Assert.Empty(errors);
        return authenticator;
    }

    private static HttpRequestHead Request(string query = "", params (string, string)[] headers)
    {
        var dictionary = new HeaderDictionary();
        foreach (var (name, value) in headers) dictionary.Append(name, value);
        return new HttpRequestHead("GET", "http", "httpbin", "/", query, dictionary);
    }

    private static JwtAuthenticationResult Run(JwtAuthenticator authenticator, HttpRequestHead request) =>
        authenticator.AuthenticateAsync(request).AsTask().GetAwaiter().GetResult();

    private static readonly JwtRule Inline = new() { Issuer = "https://issuer", Jwks = F.Jwks };

    [Fact]
    public void NoToken_Passes_InvalidToken_Is401()
    {
        var authenticator = Authenticator(Inline);
        Assert.Same(JwtAuthenticationResult.NoToken, Run(authenticator, Request()));
        Assert.Same(JwtAuthenticationResult.NoToken, Run(authenticator, Request("", ("Authorization", "Basic dXNlcjpwdw=="))));
        var invalid = Run(authenticator, Request("", ("Authorization", "Bearer not-a-jwt")));
        Assert.Equal((JwtAuthenticationStatus.Invalid, 401), (invalid.Status, invalid.RejectStatusCode));
        Assert.Contains("compact JWS", invalid.Error);
    }

    [Fact]
    public void ValidBearer_GivesPrincipal_AndStripsTheHeader()
    {
        var result = Run(Authenticator(Inline), Request("", ("authorization", "bearer " + F.Sign(F.Claims()))));
        Assert.Equal(JwtAuthenticationStatus.Valid, result.Status);
        Assert.Null(result.RejectStatusCode);
        Assert.Equal("https://issuer/alice", result.Identity!.Principal);
        Assert.Equal("Authorization", result.StripHeader);
    }

    [Fact]
    public void ForwardOriginalToken_KeepsTheHeader() =>
        Assert.Null(Run(Authenticator(Inline with { ForwardOriginalToken = true }), Request("", ("Authorization", "Bearer " + F.Sign(F.Claims())))).StripHeader);

    [Fact]
    public void DefaultQueryParameter_AccessToken()
    {
        var result = Run(Authenticator(Inline), Request("access_token=" + F.Sign(F.Claims())));
        Assert.Equal(JwtAuthenticationStatus.Valid, result.Status);
        Assert.Null(result.StripHeader);
    }

    [Fact]
    public void CustomLocations_ReplaceTheDefaults()
    {
        var rule = Inline with { FromHeaders = [new JwtHeaderLocation("x-jwt", "")], FromParams = ["tok"], FromCookies = ["session"] };
        var authenticator = Authenticator(rule);
        var token = F.Sign(F.Claims());
        Assert.Equal(JwtAuthenticationStatus.Valid, Run(authenticator, Request("", ("x-jwt", token))).Status);
        Assert.Equal(JwtAuthenticationStatus.Valid, Run(authenticator, Request("tok=" + token)).Status);
        Assert.Equal(JwtAuthenticationStatus.Valid, Run(authenticator, Request("", ("Cookie", $"a=b; session={token}"))).Status);
        Assert.Equal(JwtAuthenticationStatus.NoToken, Run(authenticator, Request("", ("Authorization", "Bearer " + token))).Status);
    }

    [Fact]
    public void SeveralIssuers_TheTokensIssuerPicksTheRule()
    {
        var other = new JwtRule { Issuer = "https://other", Jwks = $$"""{"keys": [{{JwtFixture.RsaJwk(F.OtherRsa, "o")}}]}""" };
        var authenticator = Authenticator(Inline, other);
        var fromOther = Run(authenticator, Request("", ("Authorization", "Bearer " + F.Sign(F.Claims(iss: "https://other"), kid: "o", rsa: F.OtherRsa))));
        Assert.Equal("https://other/alice", fromOther.Identity!.Principal);
        var unknown = Run(authenticator, Request("", ("Authorization", "Bearer " + F.Sign(F.Claims(iss: "https://unknown")))));
        Assert.Equal(JwtAuthenticationStatus.Invalid, unknown.Status);
        Assert.Contains("not accepted", unknown.Error);
    }

    [Fact]
    public void OutputHeaders_PayloadAndClaims()
    {
        var rule = Inline with { OutputPayloadToHeader = "x-jwt-payload", OutputClaimToHeaders = [new ClaimToHeader("x-sub", "sub"), new ClaimToHeader("x-level", "level"), new ClaimToHeader("x-list", "groups"), new ClaimToHeader("x-missing", "nope")] };
        var claims = F.Claims(extra: "\"level\": 3, \"groups\": [\"a\"]");
        var result = Run(Authenticator(rule), Request("", ("Authorization", "Bearer " + F.Sign(claims))));
        Assert.Equal(
            new[] { new HttpHeaderValue("x-jwt-payload", JwtFixture.B64(Encoding.UTF8.GetBytes(claims))), new HttpHeaderValue("x-sub", "alice"), new HttpHeaderValue("x-level", "3") },
            result.OutputHeaders.AsEnumerable());
    }

    [Fact]
    public void BrokenInlineJwks_IsReported_AndItsTokensFail()
    {
        var authenticator = JwtAuthenticator.Build([Policy(new JwtRule { Issuer = "https://issuer", Jwks = "{\"keys\": [1]}" })], null, new FixedClock(F.Now), out var errors);
        Assert.Contains("foo/jwt", Assert.Single(errors));
        var result = Run(authenticator, Request("", ("Authorization", "Bearer " + F.Sign(F.Claims()))));
        Assert.Equal(JwtAuthenticationStatus.Invalid, result.Status);
        Assert.Contains("not available", result.Error);
    }

    private sealed class CountingFetcher(Func<int, string> answer) : IJwksFetcher
    {
        public int Calls;

        public Task<string> FetchAsync(Uri uri, TimeSpan timeout, CancellationToken cancellationToken)
        {
            var call = Interlocked.Increment(ref Calls);
            return Task.FromResult(answer(call));
        }
    }

    [Fact]
    public void RemoteJwks_IsFetchedOnce_AndCached()
    {
        var fetcher = new CountingFetcher(_ => F.Jwks);
        var cache = new JwksCache(fetcher, new FixedClock(F.Now));
        var authenticator = JwtAuthenticator.Build([Policy(new JwtRule { Issuer = "https://issuer", JwksUri = "https://issuer/jwks" })], cache, new FixedClock(F.Now), out _);
        for (var i = 0; i < 5; i++)
            Assert.Equal(JwtAuthenticationStatus.Valid, Run(authenticator, Request("", ("Authorization", "Bearer " + F.Sign(F.Claims())))).Status);
        Assert.Equal(1, fetcher.Calls);
    }

    [Fact]
    public async Task JwksCache_RefreshesAfterInterval_KeepsLastGoodOnFailure()
    {
        var clock = new ManualClock();
        var fetcher = new CountingFetcher(call => call switch { 1 => F.Jwks, 2 => throw new HttpRequestException("down"), _ => """{"keys": []}""" });
        var cache = new JwksCache(fetcher, clock) { RefreshInterval = TimeSpan.FromMinutes(20), RetryInterval = TimeSpan.FromSeconds(30) };
        var first = await cache.GetAsync("https://i/jwks");
        Assert.Equal(3, first!.Keys.Length);
        clock.Advance(TimeSpan.FromMinutes(21));
        Assert.Same(first, await cache.GetAsync("https://i/jwks")); // stale while the refresh fails
        await Task.Delay(50);
        Assert.Contains("down", cache.LastError("https://i/jwks"));
        Assert.Same(first, await cache.GetAsync("https://i/jwks")); // no retry before RetryInterval
        Assert.Equal(2, fetcher.Calls);
        clock.Advance(TimeSpan.FromSeconds(31));
        await cache.GetAsync("https://i/jwks");
        await Task.Delay(50);
        Assert.Empty((await cache.GetAsync("https://i/jwks"))!.Keys);
        Assert.Equal(3, fetcher.Calls);
    }

    [Fact]
    public async Task JwksCache_FirstFetchFails_ReturnsNull()
    {
        var cache = new JwksCache(new CountingFetcher(_ => throw new IOException("no file")), new ManualClock());
        Assert.Null(await cache.GetAsync("file:///nonexistent.json"));
        Assert.Contains("no file", cache.LastError("file:///nonexistent.json"));
    }

    [Fact]
    public async Task FileFetcher_ReadsJwksFromDisk()
    {
        var path = Path.Combine(Path.GetTempPath(), $"ambient-jwks-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(path, F.Jwks);
        try
        {
            var cache = new JwksCache(new JwksFetcher());
            Assert.Equal(3, (await cache.GetAsync(new Uri(path).AbsoluteUri))!.Keys.Length);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
