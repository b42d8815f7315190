using Ambient.Cni;

namespace Ambient.Tests.Cni;

public sealed class CniArgsTests
{
    [Fact]
    public void Kubernetes_pod_identity_is_read_from_the_runtime_args()
    {
        var args = CniArgs.Parse(CniInputs.CniArgs);
        Assert.Equal("web-0", args.PodName);
        Assert.Equal("shop", args.PodNamespace);
        Assert.Equal(CniInputs.PodUid, args.PodUid);
        Assert.Equal(CniInputs.ContainerId, args.PodInfraContainerId);
        Assert.Equal("shop/web-0", args.PodRef);
        Assert.Equal("1", args.Get("IgnoreUnknown"));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData(";;")]
    public void Missing_or_empty_args_mean_no_pod(string? value)
    {
        var args = CniArgs.Parse(value);
        Assert.Equal("", args.PodName);
        Assert.Equal("", args.PodNamespace);
        Assert.Equal("", args.PodUid);
        Assert.Equal("(no pod)", args.PodRef);
    }

    [Fact]
    public void Unknown_keys_trailing_separators_and_equals_signs_in_values_are_accepted()
    {
        var args = CniArgs.Parse("FOO=BAR;K8S_POD_NAME=a=b;K8S_POD_NAMESPACE=;");
        Assert.Equal("BAR", args.Get("FOO"));
        Assert.Equal("a=b", args.PodName);
        Assert.Equal("", args.PodNamespace);
    }

    [Theory]
    [InlineData("K8S_POD_NAME")]
    [InlineData("K8S_POD_NAME=web;garbage")]
    [InlineData("=value")]
    public void A_pair_without_a_key_and_value_is_error_4_naming_CNI_ARGS(string value)
    {
        var e = Assert.Throws<CniException>(() => CniArgs.Parse(value));
        Assert.Equal(4, e.Error.Code);
        Assert.Contains("CNI_ARGS", e.Error.Msg);
    }
}
