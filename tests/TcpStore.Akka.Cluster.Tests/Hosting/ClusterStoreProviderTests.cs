using Akka.Actor;
using Akka.Configuration;
using TcpStore.Akka.Configuration;

namespace TcpStore.Akka.Cluster.Tests.Hosting;

/// <summary>A node configured for cluster mode gets its store, and a misconfigured one refuses to start, saying what to change.</summary>
public sealed class ClusterStoreProviderTests
{
    private const string Cluster = """
        akka.actor.provider = cluster
        akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0, maximum-frame-size = 32MiB }
        akka.cluster.roles = [tcpstore]
        akka.cluster.distributed-data.role = tcpstore
        akka.cluster.min-nr-of-members = 3
        akka.cluster.allow-weakly-up-members = off
        akka.loglevel = WARNING
        """;

    /// <summary>The cluster provider, or what its checks throw, in a system configured by <paramref name="hocon"/>.</summary>
    private static async Task<object> ProviderFor(string hocon)
    {
        var system = ActorSystem.Create("provider-test", ConfigurationFactory.ParseString(hocon));
        try
        {
            var settings = TcpStoreSettings.Create(system);
            return (object?)Record.Exception(() => new ClusterStoreProvider(system, settings)) ?? new ClusterStoreProvider(system, settings);
        }
        finally
        {
            await system.Terminate();
        }
    }

    [Fact]
    public async Task A_valid_cluster_node_gets_the_cluster_provider() =>
        Assert.IsType<ClusterStoreProvider>(await ProviderFor(Cluster));

    [Fact]
    public async Task Cluster_mode_needs_the_cluster_actor_ref_provider()
    {
        var error = Assert.IsType<ConfigurationException>(await ProviderFor("akka.loglevel = WARNING"));
        Assert.Contains("akka.actor.provider = cluster", error.Message);
    }

    [Fact]
    public async Task Cluster_mode_needs_the_split_brain_resolver()
    {
        var error = Assert.IsType<ConfigurationException>(
            await ProviderFor(Cluster + "\nakka.cluster.downing-provider-class = \"\""));
        Assert.Contains("split-brain resolver", error.Message);
    }

    [Fact]
    public async Task Cluster_mode_needs_the_store_role()
    {
        var error = Assert.IsType<ConfigurationException>(await ProviderFor(Cluster + "\nakka.cluster.roles = [other]"));
        Assert.Contains("lacks the role \"tcpstore\"", error.Message);
    }

    [Fact]
    public async Task Cluster_mode_needs_a_frame_that_holds_the_largest_value()
    {
        var error = Assert.IsType<ConfigurationException>(
            await ProviderFor(Cluster + "\nakka.remote.dot-netty.tcp.maximum-frame-size = 1MiB"));
        Assert.Contains("maximum-frame-size", error.Message);
        Assert.Contains("max-value-bytes = 8388608", error.Message);
    }

    [Fact]
    public async Task Cluster_mode_needs_the_replicas_on_the_store_nodes()
    {
        var error = Assert.IsType<ConfigurationException>(await ProviderFor(Cluster + "\nakka.cluster.distributed-data.role = \"\""));
        Assert.Contains("akka.cluster.distributed-data.role", error.Message);
    }

    [Fact]
    public async Task Cluster_mode_refuses_weakly_up_members()
    {
        var error = Assert.IsType<ConfigurationException>(await ProviderFor(Cluster + "\nakka.cluster.allow-weakly-up-members = 7s"));
        Assert.Contains("allow-weakly-up-members = off", error.Message);
    }

    [Theory]
    [InlineData("akka.cluster.min-nr-of-members = 2")]
    [InlineData("tcpstore.cluster.store-size = 5")]
    public async Task Cluster_mode_needs_every_store_node_to_join_before_any_is_up(string setting)
    {
        var error = Assert.IsType<ConfigurationException>(await ProviderFor(Cluster + "\n" + setting));
        Assert.Contains("akka.cluster.min-nr-of-members", error.Message);
    }

    [Fact]
    public async Task A_minimum_of_members_of_the_role_serves_the_default_store_as_before()
    {
        Assert.IsType<ClusterStoreProvider>(await ProviderFor(
            Cluster + "\nakka.cluster.role.tcpstore.min-nr-of-members = 3\nakka.cluster.min-nr-of-members = 1"));
    }
}
