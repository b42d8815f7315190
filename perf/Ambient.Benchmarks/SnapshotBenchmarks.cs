using System.Collections.Immutable;
using System.Net;
using Ambient.Authorization;
using Ambient.Config;
using BenchmarkDotNet.Attributes;

namespace Ambient.Benchmarks;

/// <summary>
/// The config snapshot at cluster scale: 50,000 workloads, 10,000 services (5 endpoints each), 1,000 policies.
/// Build = the indexes the data path reads; Update = one workload changed (today a full rebuild: the honest
/// incremental cost); lookups are what each new connection does (address → workload, VIP → service → endpoints,
/// policies for the destination and their evaluation).
/// </summary>
[MemoryDiagnoser]
public class SnapshotBenchmarks
{
    private const int Workloads = 50_000, Services = 10_000, Policies = 1_000;
    private MeshConfig _config = null!;
    private MeshConfig _changed = null!;
    private MeshSnapshot _snapshot = null!;
    private IPAddress[] _probeAddresses = null!;
    private IPAddress[] _probeVips = null!;
    private ConnectionFacts[] _facts = null!;

    [GlobalSetup]
    public void Setup()
    {
        var workloads = ImmutableArray.CreateBuilder<Workload>(Workloads);
        for (int i = 0; i < Workloads; i++)
        {
            string ns = $"ns{i % 500}";
            int svc = i % Services;
            workloads.Add(new Workload
            {
                Uid = $"{ns}/w{i}",
                Name = $"w{i}",
                Namespace = ns,
                ServiceAccount = $"sa{i % 50}",
                Addresses = [new IPAddress([10, (byte)(i >> 16), (byte)(i >> 8), (byte)i])],
                Node = $"node{i % 100}",
                Labels = ImmutableDictionary<string, string>.Empty.Add("app", $"a{i % 2000}"),
                Services = ImmutableDictionary<string, ImmutableDictionary<int, int>>.Empty
                    .Add($"ns{svc % 500}/s{svc}.ns{svc % 500}.svc.cluster.local", ImmutableDictionary<int, int>.Empty.Add(80, 8080)),
            });
        }
        var services = ImmutableArray.CreateBuilder<Service>(Services);
        for (int i = 0; i < Services; i++)
        {
            string ns = $"ns{i % 500}";
            services.Add(new Service
            {
                Name = $"s{i}",
                Namespace = ns,
                Hostname = $"s{i}.{ns}.svc.cluster.local",
                Vips = [new IPAddress([172, 20, (byte)(i >> 8), (byte)i])],
                Ports = ImmutableDictionary<int, int>.Empty.Add(80, 8080),
            });
        }
        var policies = ImmutableArray.CreateBuilder<AuthorizationPolicy>(Policies);
        for (int i = 0; i < Policies; i++)
        {
            policies.Add(new AuthorizationPolicy
            {
                Name = $"p{i}",
                Namespace = $"ns{i % 500}",
                Selector = i % 2 == 0 ? new WorkloadSelector(ImmutableDictionary<string, string>.Empty.Add("app", $"a{i % 2000}")) : null,
                Action = i % 10 == 0 ? AuthorizationAction.Deny : AuthorizationAction.Allow,
                Rules = [new AuthorizationRule { From = [new PolicySource { Principals = [$"cluster.local/ns/ns{i % 500}/sa/sa{i % 50}"] }], To = [new PolicyOperation { Ports = [8080] }] }],
            });
        }
        _config = new MeshConfig { Workloads = workloads.MoveToImmutable(), Services = services.MoveToImmutable(), AuthorizationPolicies = policies.MoveToImmutable(), Generation = 1 };
        _changed = _config with { Workloads = _config.Workloads.SetItem(123, _config.Workloads[123] with { Node = "elsewhere" }), Generation = 2 };
        _snapshot = new MeshSnapshot(_config);
        var rng = new Random(1);
        _probeAddresses = Enumerable.Range(0, 1024).Select(_ => _config.Workloads[rng.Next(Workloads)].Addresses[0]).ToArray();
        _probeVips = Enumerable.Range(0, 1024).Select(_ => _config.Services[rng.Next(Services)].Vips[0]).ToArray();
        _facts = Enumerable.Range(0, 1024).Select(_ =>
        {
            var w = _config.Workloads[rng.Next(Workloads)];
            return new ConnectionFacts($"spiffe://cluster.local/ns/ns{rng.Next(500)}/sa/sa{rng.Next(50)}", IPAddress.Loopback, w, w.Addresses[0], 8080);
        }).ToArray();
    }

    [Benchmark(Description = "build snapshot (50k workloads, 10k services, 1k policies)")]
    public MeshSnapshot Build() => new(_config);

    [Benchmark(Description = "update one workload (rebuild)")]
    public MeshSnapshot Update() => new(_changed);

    [Benchmark(OperationsPerInvoke = 1024, Description = "lookup workload by address")]
    public int WorkloadByAddress()
    {
        int found = 0;
        foreach (var a in _probeAddresses)
            if (_snapshot.WorkloadByAddress(a) is not null) found++;
        return found;
    }

    [Benchmark(OperationsPerInvoke = 1024, Description = "lookup VIP → service → endpoints")]
    public int ServiceEndpoints()
    {
        int n = 0;
        foreach (var vip in _probeVips)
            if (_snapshot.ServiceByVip(vip) is { } s) n += _snapshot.EndpointsOf(s, 80).Length;
        return n;
    }

    [Benchmark(OperationsPerInvoke = 1024, Description = "policies for destination + L4 evaluation")]
    public int Authorize()
    {
        int allowed = 0;
        foreach (var f in _facts)
            if (L4Authorizer.Evaluate(_snapshot.PoliciesFor(f.Destination), f).Allowed) allowed++;
        return allowed;
    }
}
