using System.Net;
using Akka.Configuration;
using TcpStore.Akka.Hosting;
using TcpStore.TestSupport;
using static TcpStore.TestSupport.Wire;
using TcpStore.Akka.Configuration;

namespace TcpStore.Akka.Tests.Connections;

/// <summary>Who may connect: the client-network allowlist.</summary>
public abstract class AdmissionTests(string transport)
{
    private Task<TestStoreServer> StartServerAsync(string extraHocon = "") => TestStoreServer.StartAsync(extraHocon, transport);

    [Fact]
    public async Task A_peer_outside_the_allowlist_is_closed_unread_logged_and_counted()
    {
        using var metrics = new MetricRecorder();
        await using var server = await StartServerAsync("""tcpstore.allowed-networks = ["10.0.0.0/8", "fd00::/8"]""");
        await using var client = await RawClient.ConnectAsync(server.Port, validate: false);
        await client.SendAsync(Validate, Set("/sneaky", "x"), Ping(1));
        Assert.True(await client.ClosedByServerAsync());
        Assert.True(await TestStoreServer.EventuallyAsync(
            () => Task.FromResult(metrics.Sum("tcpstore.connections.refused", "reason", "not-allowed") >= 1),
            TimeSpan.FromSeconds(5)));
        Assert.Equal(0, (await server.StatsAsync()).Keys);
        Assert.Equal(0, await server.ConnectionCountAsync());
    }

    [Fact]
    public async Task A_peer_inside_the_allowlist_is_served()
    {
        await using var server = await StartServerAsync("""tcpstore.allowed-networks = ["10.0.0.0/8", "127.0.0.0/8"]""");
        await using var client = await RawClient.ConnectAsync(server.Port);
        await client.SendAsync(Ping(9));
        Assert.Equal(9u, await client.ReadUInt32Async());
    }

    [Theory]
    [InlineData("127.0.0.1", true)]
    [InlineData("::ffff:127.0.0.1", true)]
    [InlineData("10.1.2.3", true)]
    [InlineData("11.0.0.1", false)]
    [InlineData("fd00::1", true)]
    [InlineData("::1", false)]
    public void Allowlist_matches_ipv4_ipv6_and_mapped_addresses(string address, bool allowed)
    {
        var settings = TcpStoreSettings.Create(ConfigurationFactory.ParseString(
            """allowed-networks = ["127.0.0.0/8", "10.0.0.0/8", "fd00::/8"]""")).Listener;
        Assert.Equal(allowed, settings.IsAllowed(IPAddress.Parse(address)));
    }

    [Fact]
    public void An_empty_allowlist_allows_everyone_and_a_bad_block_is_refused()
    {
        Assert.True(TcpStoreSettings.Create(Config.Empty).Listener.IsAllowed(IPAddress.Parse("203.0.113.9")));
        var error = Assert.Throws<ConfigurationException>(() =>
            TcpStoreSettings.Create(ConfigurationFactory.ParseString("""allowed-networks = ["10.0.0.0/33"]""")));
        Assert.Contains("allowed-networks", error.Message);
    }

    [Fact]
    public void Options_write_the_allowlist_as_a_hocon_list()
    {
        var options = new TcpStoreOptions { AllowedNetworks = ["10.0.0.0/8", "::1/128"] };
        var settings = TcpStoreSettings.Create(options.ToConfig().GetConfig(TcpStoreSettings.ConfigPath)).Listener;
        Assert.Equal(2, settings.AllowedNetworks.Count);
        Assert.True(settings.IsAllowed(IPAddress.IPv6Loopback));
    }
}

/// <summary><see cref="AdmissionTests"/> over the epoll transport.</summary>
public sealed class AdmissionTestsOverEpoll() : AdmissionTests("epoll");

/// <summary><see cref="AdmissionTests"/> over the .NET sockets transport.</summary>
public sealed class AdmissionTestsOverSockets() : AdmissionTests("sockets");
