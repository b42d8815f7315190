using Ambient.Config.Routes;
using static Ambient.Tests.Waypoint.RouteTestSupport;

namespace Ambient.Tests.Waypoint;

public class HttpRouteParserTests
{
    [Fact]
    public void FullRoute_AsUsersWriteIt_ParsesEveryField()
    {
        var route = Ok(Http("""
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata:
              name: reviews
              namespace: default
              annotations:
                kubectl.kubernetes.io/last-applied-configuration: "{}"
            spec:
              parentRefs:
              - group: ""
                kind: Service
                name: reviews
                port: 9080
              - name: waypoint
              hostnames: ["reviews.example.com", "*.example.org"]
              rules:
              - name: v2-for-jason
                matches:
                - path: { type: PathPrefix, value: /api }
                  headers:
                  - { name: end-user, value: jason }
                  - { type: RegularExpression, name: x-version, value: "v[0-9]+" }
                  queryParams:
                  - { name: debug, value: "1" }
                  method: GET
                - path: { type: Exact, value: /healthz }
                - path: { type: RegularExpression, value: "/items/[0-9]+" }
                filters:
                - type: RequestHeaderModifier
                  requestHeaderModifier:
                    set: [{ name: x-env, value: prod }]
                    add: [{ name: x-trace, value: "1" }]
                    remove: [x-internal]
                - type: ResponseHeaderModifier
                  responseHeaderModifier:
                    set: [{ name: cache-control, value: no-store }]
                - type: URLRewrite
                  urlRewrite:
                    hostname: reviews.internal
                    path: { type: ReplaceFullPath, replaceFullPath: /v2 }
                - type: RequestMirror
                  requestMirror:
                    backendRef: { name: reviews-shadow, port: 9080 }
                    percent: 10
                backendRefs:
                - name: reviews-v1
                  port: 9080
                  weight: 90
                - name: reviews-v2
                  namespace: canary
                  port: 9080
                  weight: 10
                  filters:
                  - type: RequestHeaderModifier
                    requestHeaderModifier: { set: [{ name: x-canary, value: "true" }] }
                timeouts: { request: 10s, backendRequest: 500ms }
                retry: { codes: [500, 503], attempts: 3, backoff: 100ms }
              - backendRefs: [{ name: reviews-v1, port: 9080 }]
            """));

        Assert.Equal("default/reviews", route.Key);
        Assert.Equal(2, route.ParentRefs.Length);
        Assert.True(route.ParentRefs[0].IsService);
        Assert.Equal(("reviews", "default", 9080), (route.ParentRefs[0].Name, route.ParentRefs[0].Namespace, route.ParentRefs[0].Port));
        Assert.Equal(("Gateway", RouteParentRef.GatewayGroup), (route.ParentRefs[1].Kind, route.ParentRefs[1].Group));
        Assert.Equal(new[] { "reviews.example.com", "*.example.org" }, route.Hostnames.AsEnumerable());

        var rule = route.Rules[0];
        Assert.Equal("v2-for-jason", rule.Name);
        Assert.Equal(3, rule.Matches.Length);
        var match = rule.Matches[0];
        Assert.Equal(new HttpPathMatch(PathMatchType.PathPrefix, "/api"), match.Path);
        Assert.Equal(new RouteValueMatch(StringMatchType.Exact, "end-user", "jason"), match.Headers[0]);
        Assert.Equal(new RouteValueMatch(StringMatchType.RegularExpression, "x-version", "v[0-9]+"), match.Headers[1]);
        Assert.Equal(new RouteValueMatch(StringMatchType.Exact, "debug", "1"), match.QueryParams[0]);
        Assert.Equal("GET", match.Method);
        Assert.Equal(PathMatchType.Exact, rule.Matches[1].Path.Type);
        Assert.Equal(PathMatchType.RegularExpression, rule.Matches[2].Path.Type);

        Assert.Equal(new[] { RouteFilterType.RequestHeaderModifier, RouteFilterType.ResponseHeaderModifier, RouteFilterType.UrlRewrite, RouteFilterType.RequestMirror }, (rule.Filters.Select(f => f.Type)).AsEnumerable());
        Assert.Equal(new HttpHeaderValue("x-env", "prod"), rule.Filters[0].HeaderModifier!.Set[0]);
        Assert.Equal(new HttpHeaderValue("x-trace", "1"), rule.Filters[0].HeaderModifier!.Add[0]);
        Assert.Equal(new[] { "x-internal" }, rule.Filters[0].HeaderModifier!.Remove.AsEnumerable());
        Assert.Equal("reviews.internal", rule.Filters[2].Rewrite!.Hostname);
        Assert.Equal(new PathModifier(PathModifierType.ReplaceFullPath, "/v2"), rule.Filters[2].Rewrite!.Path);
        Assert.Equal("default/reviews-shadow:9080", rule.Filters[3].Mirror!.Backend.Key);
        Assert.Equal(0.1, rule.Filters[3].Mirror!.Fraction, 6);

        Assert.Equal(90, rule.BackendRefs[0].Weight);
        Assert.Equal("canary/reviews-v2:9080", rule.BackendRefs[1].Backend.Key);
        Assert.Single(rule.BackendRefs[1].Filters);
        Assert.Equal(TimeSpan.FromSeconds(10), rule.Timeouts!.Request);
        Assert.Equal(TimeSpan.FromMilliseconds(500), rule.Timeouts!.BackendRequest);
        Assert.Equal(new[] { 500, 503 }, rule.Retry!.Codes.AsEnumerable());
        Assert.Equal(3, rule.Retry!.Attempts);
        Assert.Equal(TimeSpan.FromMilliseconds(100), rule.Retry!.Backoff);

        // Defaults: one PathPrefix "/" match, weight 1.
        Assert.Equal(new[] { HttpRouteMatch.Default }, route.Rules[1].Matches.AsEnumerable());
        Assert.Equal(1, route.Rules[1].BackendRefs[0].Weight);
    }

    [Fact]
    public void WithoutApiVersionAndKind_IsAccepted()
    {
        var route = Ok(Http(Object("parentRefs: [{group: '', kind: Service, name: reviews}], rules: [{backendRefs: [{name: reviews, port: 80}]}]")));
        Assert.Equal("default", route.ParentRefs[0].Namespace);
        Assert.Null(route.ParentRefs[0].Port);
    }

    [Fact]
    public void Redirect_AllFields()
    {
        var route = Ok(Http(Object("rules: [{matches: [{path: {type: PathPrefix, value: /old}}], filters: [{type: RequestRedirect, requestRedirect: {scheme: https, hostname: new.example.com, port: 8443, statusCode: 301, path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}}}]}]")));
        var redirect = route.Rules[0].Filters[0].Redirect!;
        Assert.Equal(("https", "new.example.com", 8443, 301), (redirect.Scheme, redirect.Hostname, redirect.Port, redirect.StatusCode));
        Assert.Equal(new PathModifier(PathModifierType.ReplacePrefixMatch, "/new"), redirect.Path);
    }

    [Fact]
    public void Redirect_DefaultsTo302()
    {
        var route = Ok(Http(Object("rules: [{filters: [{type: RequestRedirect, requestRedirect: {scheme: https}}]}]")));
        Assert.Equal(302, route.Rules[0].Filters[0].Redirect!.StatusCode);
    }

    [Fact]
    public void Mirror_Fraction()
    {
        var route = Ok(Http(Object("rules: [{filters: [{type: RequestMirror, requestMirror: {backendRef: {name: shadow, port: 80}, fraction: {numerator: 1, denominator: 4}}}], backendRefs: [{name: a, port: 80}]}]")));
        Assert.Equal(0.25, route.Rules[0].Filters[0].Mirror!.Fraction);
    }

    [Fact]
    public void Timeouts_ZeroDisables_AndMultiPartDurations()
    {
        var route = Ok(Http(Object("rules: [{timeouts: {request: 0s, backendRequest: 1h2m}}]")));
        Assert.Equal(TimeSpan.Zero, route.Rules[0].Timeouts!.Request);
        Assert.Equal(TimeSpan.FromMinutes(62), route.Rules[0].Timeouts!.BackendRequest);
    }

    public static TheoryData<string, string, string> InvalidSpecs => new()
    {
        { "rules: [{backendRefs: [{name: a, port: 80}, {name: b, port: 80, weight: -1}]}]", "httpRoutes[2].spec.rules[0].backendRefs[1].weight", "must be 0..1000000" },
        { "rules: [{backendRefs: [{name: a, port: 80, weight: 1000001}]}]", "httpRoutes[2].spec.rules[0].backendRefs[0].weight", "must be 0..1000000" },
        { "rules: [{backendRefs: [{name: a}]}]", "httpRoutes[2].spec.rules[0].backendRefs[0].port", "missing required field 'port'" },
        { "rules: [{backendRefs: [{name: a, port: 70000}]}]", "httpRoutes[2].spec.rules[0].backendRefs[0].port", "out of range" },
        { "rules: [{backendRefs: [{name: A_b, port: 80}]}]", "httpRoutes[2].spec.rules[0].backendRefs[0].name", "RFC 1035" },
        { "rules: [{backendRefs: [{kind: ServiceImport, group: multicluster.x-k8s.io, name: a, port: 80}]}]", "httpRoutes[2].spec.rules[0].backendRefs[0].kind", "unsupported backend" },
        { "rules: [{backendRefs: [{name: a, port: 80, wieght: 3}]}]", "httpRoutes[2].spec.rules[0].backendRefs[0].wieght", "did you mean 'weight'" },
        { "parentRefs: [{kind: Service, name: reviews}]", "httpRoutes[2].spec.parentRefs[0].kind", "unsupported parent" },
        { "parentRefs: [{group: '', kind: Service, name: reviews, port: 0}]", "httpRoutes[2].spec.parentRefs[0].port", "out of range" },
        { "parentRefs: [{group: '', kind: Service}]", "httpRoutes[2].spec.parentRefs[0].name", "missing required field 'name'" },
        { "hostnames: ['10.0.0.1']", "httpRoutes[2].spec.hostnames[0]", "IP address" },
        { "hostnames: ['Foo.com']", "httpRoutes[2].spec.hostnames[0]", "not a valid hostname" },
        { "hostnames: ['a.*.com']", "httpRoutes[2].spec.hostnames[0]", "not a valid hostname" },
        { "rules: [{matches: [{path: {type: Prefix, value: /}}]}]", "httpRoutes[2].spec.rules[0].matches[0].path.type", "not a valid path match type" },
        { "rules: [{matches: [{path: {type: Exact, value: foo}}]}]", "httpRoutes[2].spec.rules[0].matches[0].path.value", "must be an absolute path" },
        { "rules: [{matches: [{path: {type: PathPrefix, value: /a//b}}]}]", "httpRoutes[2].spec.rules[0].matches[0].path.value", "must not contain '//'" },
        { "rules: [{matches: [{path: {type: PathPrefix, value: /a/../b}}]}]", "httpRoutes[2].spec.rules[0].matches[0].path.value", "must not contain '/../'" },
        { "rules: [{matches: [{path: {type: PathPrefix, value: /a%2Fb}}]}]", "httpRoutes[2].spec.rules[0].matches[0].path.value", "must not contain '%2F'" },
        { "rules: [{matches: [{path: {type: Exact, value: /a/.}}]}]", "httpRoutes[2].spec.rules[0].matches[0].path.value", "must not end with" },
        { "rules: [{matches: [{path: {type: Exact, value: '/a?b=1'}}]}]", "httpRoutes[2].spec.rules[0].matches[0].path.value", "'?'" },
        { "rules: [{matches: [{path: {type: RegularExpression, value: '/(a'}}]}]", "httpRoutes[2].spec.rules[0].matches[0].path.value", "not a supported regular expression" },
        { "rules: [{matches: [{path: {type: RegularExpression, value: '(a)\\1'}}]}]", "httpRoutes[2].spec.rules[0].matches[0].path.value", "not a supported regular expression" },
        { "rules: [{matches: [{method: get}]}]", "httpRoutes[2].spec.rules[0].matches[0].method", "did you mean 'GET'" },
        { "rules: [{matches: [{method: FETCH}]}]", "httpRoutes[2].spec.rules[0].matches[0].method", "not a valid HTTP method" },
        { "rules: [{matches: [{headers: [{name: 'bad header', value: x}]}]}]", "httpRoutes[2].spec.rules[0].matches[0].headers[0].name", "HTTP header name" },
        { "rules: [{matches: [{headers: [{name: x-a, value: '1'}, {name: X-A, value: '2'}]}]}]", "httpRoutes[2].spec.rules[0].matches[0].headers[1].name", "matched twice" },
        { "rules: [{matches: [{headers: [{name: x-a}]}]}]", "httpRoutes[2].spec.rules[0].matches[0].headers[0].value", "missing required field 'value'" },
        { "rules: [{matches: [{headers: [{type: Prefix, name: x-a, value: b}]}]}]", "httpRoutes[2].spec.rules[0].matches[0].headers[0].type", "not a valid match type" },
        { "rules: [{matches: [{headers: [{type: RegularExpression, name: x-a, value: '[a'}]}]}]", "httpRoutes[2].spec.rules[0].matches[0].headers[0].value", "not a supported regular expression" },
        { "rules: [{matches: [{queryParams: [{name: a, value: '1'}, {name: a, value: '2'}]}]}]", "httpRoutes[2].spec.rules[0].matches[0].queryParams[1].name", "matched twice" },
        { "rules: [{filters: [{type: RequestHeaderModifier}]}]", "httpRoutes[2].spec.rules[0].filters[0].requestHeaderModifier", "missing required field" },
        { "rules: [{filters: [{type: RequestHeaderModifier, requestHeaderModifier: {}}]}]", "httpRoutes[2].spec.rules[0].filters[0].requestHeaderModifier", "at least one of" },
        { "rules: [{filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: a, value: '1'}, {name: A, value: '2'}]}}]}]", "httpRoutes[2].spec.rules[0].filters[0].requestHeaderModifier.set[1].name", "listed twice" },
        { "rules: [{filters: [{type: RequestHeaderModifier, requestHeaderModifier: {remove: [a, a]}}]}]", "httpRoutes[2].spec.rules[0].filters[0].requestHeaderModifier.remove[1]", "listed twice" },
        { "rules: [{filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: a, value: '1'}]}, urlRewrite: {hostname: a.b}}]}]", "httpRoutes[2].spec.rules[0].filters[0].urlRewrite", "does not belong" },
        { "rules: [{filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: a, value: '1'}]}}, {type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: b, value: '1'}]}}]}]", "httpRoutes[2].spec.rules[0].filters[1].type", "only once" },
        { "rules: [{filters: [{type: RequestRedirect, requestRedirect: {scheme: https}}, {type: URLRewrite, urlRewrite: {hostname: a.b}}]}]", "httpRoutes[2].spec.rules[0].filters[1].type", "cannot be used together" },
        { "rules: [{filters: [{type: RequestRedirect, requestRedirect: {scheme: ftp}}]}]", "httpRoutes[2].spec.rules[0].filters[0].requestRedirect.scheme", "expected http or https" },
        { "rules: [{filters: [{type: RequestRedirect, requestRedirect: {statusCode: 200}}]}]", "httpRoutes[2].spec.rules[0].filters[0].requestRedirect.statusCode", "not a redirect" },
        { "rules: [{filters: [{type: RequestRedirect, requestRedirect: {hostname: '*.a.com'}}]}]", "httpRoutes[2].spec.rules[0].filters[0].requestRedirect.hostname", "no wildcard" },
        { "rules: [{filters: [{type: RequestRedirect, requestRedirect: {path: {type: ReplaceFullPath, replacePrefixMatch: /a}}}]}]", "httpRoutes[2].spec.rules[0].filters[0].requestRedirect.path.replacePrefixMatch", "does not belong" },
        { "rules: [{matches: [{path: {type: Exact, value: /a}}], filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /b}}}]}]", "httpRoutes[2].spec.rules[0].filters", "exactly one match, with a PathPrefix" },
        { "rules: [{matches: [{path: {value: /a}}, {path: {value: /b}}], filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /b}}}]}]", "httpRoutes[2].spec.rules[0].filters", "exactly one match" },
        { "rules: [{filters: [{type: URLRewrite, urlRewrite: {}}]}]", "httpRoutes[2].spec.rules[0].filters[0].urlRewrite", "needs 'hostname' and/or 'path'" },
        { "rules: [{filters: [{type: RequestMirror, requestMirror: {backendRef: {name: s, port: 80}, percent: 101}}]}]", "httpRoutes[2].spec.rules[0].filters[0].requestMirror.percent", "out of range" },
        { "rules: [{filters: [{type: RequestMirror, requestMirror: {backendRef: {name: s, port: 80}, percent: 5, fraction: {numerator: 1}}}]}]", "httpRoutes[2].spec.rules[0].filters[0].requestMirror.fraction", "only one of" },
        { "rules: [{filters: [{type: RequestMirror, requestMirror: {backendRef: {name: s, port: 80}, fraction: {numerator: 5, denominator: 4}}}]}]", "httpRoutes[2].spec.rules[0].filters[0].requestMirror.fraction.numerator", "must not exceed" },
        { "rules: [{filters: [{type: RequestMirror, requestMirror: {percent: 5}}]}]", "httpRoutes[2].spec.rules[0].filters[0].requestMirror.backendRef", "missing required field" },
        { "rules: [{filters: [{type: ExtensionRef, extensionRef: {group: a, kind: B, name: c}}]}]", "httpRoutes[2].spec.rules[0].filters[0].type", "ExtensionRef is not supported" },
        { "rules: [{backendRefs: [{name: a, port: 80, filters: [{type: RequestRedirect, requestRedirect: {scheme: https}}]}]}]", "httpRoutes[2].spec.rules[0].backendRefs[0].filters[0].type", "not supported in backendRefs filters" },
        { "rules: [{timeouts: {request: 10}}]", "httpRoutes[2].spec.rules[0].timeouts.request", "not a valid duration" },
        { "rules: [{timeouts: {request: 1.5s}}]", "httpRoutes[2].spec.rules[0].timeouts.request", "Gateway API duration" },
        { "rules: [{timeouts: {request: 123456s}}]", "httpRoutes[2].spec.rules[0].timeouts.request", "not a valid duration" },
        { "rules: [{timeouts: {request: 1s, backendRequest: 2s}}]", "httpRoutes[2].spec.rules[0].timeouts.backendRequest", "must not be longer" },
        { "rules: [{retry: {codes: [200]}}]", "httpRoutes[2].spec.rules[0].retry.codes[0]", "out of range" },
        { "rules: [{retry: {attempts: -1}}]", "httpRoutes[2].spec.rules[0].retry.attempts", "not a valid attempt count" },
        { "rules: [{retry: {backoff: soon}}]", "httpRoutes[2].spec.rules[0].retry.backoff", "not a valid duration" },
        { "rules: [{name: a}, {name: a}]", "httpRoutes[2].spec.rules[1].name", "used twice" },
        { "rules: [{sessionPersistence: {}}]", "httpRoutes[2].spec.rules[0].sessionPersistence", "unknown field" },
        { "rules: [{}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}]", "httpRoutes[2].spec.rules", "at most 16" },
    };

    [Theory]
    [MemberData(nameof(InvalidSpecs))]
    public void InvalidField_RejectsTheObjectNamingTheField(string spec, string path, string fragment) =>
        Rejected(Http(Object(spec)), path, fragment);

    [Fact]
    public void ErrorDescription_NamesListIndexObjectAndField()
    {
        var parsed = Http(Object("rules: [{backendRefs: [{name: a, port: 80}, {name: b, port: 80, weight: -1}]}]"));
        var error = Rejected(parsed, "httpRoutes[2].spec.rules[0].backendRefs[1].weight", "must be 0..1000000");
        var text = parsed.Describe(error);
        Assert.StartsWith("ambient.yaml:1:", text);
        Assert.EndsWith(": httpRoutes[2] default/reviews: spec.rules[0].backendRefs[1].weight: must be 0..1000000, got '-1'", text);
    }

    [Theory]
    [InlineData("{apiVersion: gateway.networking.k8s.io/v1alpha1, kind: HTTPRoute, metadata: {name: a, namespace: b}, spec: {}}", "httpRoutes[2].apiVersion", "unsupported apiVersion")]
    [InlineData("{apiVersion: gateway.networking.k8s.io/v1, kind: GRPCRoute, metadata: {name: a, namespace: b}, spec: {}}", "httpRoutes[2].kind", "kind must be 'HTTPRoute'")]
    [InlineData("{kind: HTTPRoute, metadata: {name: a, namespace: b}, spec: {}}", "httpRoutes[2].apiVersion", "missing required field")]
    [InlineData("{metadata: {name: a}, spec: {}}", "httpRoutes[2].metadata.namespace", "missing required field")]
    [InlineData("{metadata: {name: A, namespace: b}, spec: {}}", "httpRoutes[2].metadata.name", "RFC 1123 subdomain")]
    [InlineData("{metadata: {name: a, namespace: b}}", "httpRoutes[2].spec", "missing required field")]
    [InlineData("{metadata: {name: a, namespace: b}, spec: {}, status: {}}", "httpRoutes[2].status", "unknown field")]
    [InlineData("[]", "httpRoutes[2]", "expected a mapping")]
    public void InvalidEnvelope_IsRejected(string yaml, string path, string fragment) => Rejected(Http(yaml), path, fragment);

    [Fact]
    public void ListParsing_DropsOnlyTheBadObject()
    {
        var top = Node("""
            httpRoutes:
            - {metadata: {name: good, namespace: default}, spec: {rules: [{backendRefs: [{name: a, port: 80}]}]}}
            - {metadata: {name: bad, namespace: default}, spec: {rules: [{backendRefs: [{name: a, port: 80, weight: -1}]}]}}
            - {metadata: {name: also-good, namespace: default}, spec: {}}
            """);
        var reader = new Ambient.Config.ConfigReader(Source);
        var map = reader.Map(top, "", ["httpRoutes"])!;
        var parsed = RouteConfigParser.ParseHttpRouteList(map);
        Assert.Equal(new[] { true, false, true }, (parsed.Select(p => p.Ok)).AsEnumerable());
        Assert.Equal("default/bad", parsed[1].Key);
        Assert.All(parsed[1].Errors, e => Assert.Equal("httpRoutes[1]", e.ObjectPath));
        Assert.Equal(parsed[1].Errors, reader.Errors); // also reported to the file's reader
    }
}
