using Akka.Configuration;
using TcpStore.Akka.Configuration;
using TcpStore.Akka.Connections;
using TcpStore.Akka.Hosting;
using TcpStore.Protocol;

namespace TcpStore.Akka.Tests.Hosting;

public sealed class SettingsTests
{
    [Fact]
    public void Embedded_defaults_are_libuvs_limits_and_pytorchs_port()
    {
        var settings = TcpStoreSettings.Create(Config.Empty).Listener;
        Assert.Equal(29500, settings.Port);
        Assert.Equal("::", settings.Host); // dual stack, falling back to 0.0.0.0 without IPv6, as PyTorch's server
        Assert.Equal(WireLimits.Default, settings.WireLimits);
        Assert.Equal(8192, settings.WireLimits.MaxKeyBytes);
        Assert.Equal(8 * 1024 * 1024, settings.WireLimits.MaxValueBytes);
        Assert.Equal(131072, settings.WireLimits.MaxKeysPerRequest);
        Assert.True(settings.Backlog >= 4096);
        Assert.True(settings.NoDelay);
        Assert.True(settings.KeepAlive.Enabled);
    }

    [Fact]
    public void Options_emit_only_the_keys_that_are_set()
    {
        Assert.Equal("", new TcpStoreOptions().ToHocon());
        var hocon = new TcpStoreOptions { Port = 0, MaxKeyBytes = 100 }.ToHocon();
        Assert.Equal("tcpstore.port = 0\ntcpstore.limits.max-key-bytes = 100\n", hocon);
    }

    [Fact]
    public void Cluster_mode_is_off_by_default()
    {
        Assert.False(TcpStoreSettings.Create(Config.Empty).ClusterEnabled);
        Assert.True(TcpStoreSettings.Create(ConfigurationFactory.ParseString("cluster.enabled = on")).ClusterEnabled);
    }

    [Fact]
    public void Options_quote_what_hocon_would_misread()
    {
        var options = new TcpStoreOptions { Host = "::", AllowedNetworks = ["10.0.0.0/8", "fd00::/8"], AdminHost = "127.0.0.1" };
        var settings = TcpStoreSettings.Create(options.ToConfig().GetConfig(TcpStoreSettings.ConfigPath));
        Assert.Equal("::", settings.Listener.Host);
        Assert.Equal(["10.0.0.0/8", "fd00::/8"], settings.Listener.AllowedNetworks.Select(n => n.ToString()));
        Assert.Equal("127.0.0.1", settings.Admin.Host);
    }

    [Fact]
    public void Every_option_round_trips_through_hocon_into_settings()
    {
        var options = new TcpStoreOptions
        {
            Host = "127.0.0.1",
            Port = 1234,
            Backlog = 77,
            MaxKeyBytes = 10,
            MaxValueBytes = 20,
            MaxKeysPerRequest = 30,
            MaxQueueLength = 40,
            MaxConnections = 50,
            MaxBufferedBytesPerConnection = 60,
            NoDelay = false,
            KeepAlive = true,
            KeepAliveIdle = TimeSpan.FromSeconds(5),
            KeepAliveInterval = TimeSpan.FromSeconds(2),
            KeepAliveProbes = 3,
            ConnectionHosts = 5,
            Transport = "sockets",
            EventLoops = 3,
            EventLoopThroughput = 7,
            StoreOnEventLoop = false,
            EventLoopMaxTurn = TimeSpan.FromMilliseconds(3),
        };
        var all = TcpStoreSettings.Create(options.ToConfig().GetConfig(TcpStoreSettings.ConfigPath));
        var settings = all.Listener;
        Assert.Equal("127.0.0.1", settings.Host);
        Assert.Equal(1234, settings.Port);
        Assert.Equal(77, settings.Backlog);
        Assert.Equal(new WireLimits(10, 20, 30), settings.WireLimits);
        Assert.Equal(40, all.Store.MaxQueueLength);
        Assert.Equal(50, settings.MaxConnections);
        Assert.Equal(60, settings.MaxBufferedBytesPerConnection);
        Assert.False(settings.NoDelay);
        Assert.Equal(new KeepAliveSettings(true, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(2), 3), settings.KeepAlive);
        Assert.Equal(5, settings.ConnectionHosts);
        Assert.Equal(TcpTransport.Sockets, settings.Transport);
        Assert.Equal(new EventLoopSettings(3, 7, StoreOnLoop: false, TimeSpan.FromMilliseconds(3)), settings.EventLoops);
    }

    [Fact]
    public void Event_loops_default_to_one_per_four_processors_at_least_one_with_the_store_on_loop_0()
    {
        var loops = TcpStoreSettings.Create(Config.Empty).Listener.EventLoops;
        Assert.Equal(Math.Max(1, Environment.ProcessorCount / 4), loops.Count);
        Assert.True(loops.StoreOnLoop);
        Assert.Equal(TimeSpan.FromMilliseconds(1), loops.MaxTurn);
        Assert.Equal(1, EventLoopSettings.DefaultCount(2));
        Assert.Equal(4, EventLoopSettings.DefaultCount(16));
        Assert.Equal(2, TcpStoreSettings.Create(ConfigurationFactory.ParseString("tcp.event-loops.count = 2")).Listener.EventLoops.Count);
    }

    [Theory]
    [InlineData("epoll", TcpTransport.Epoll)]
    [InlineData("EPOLL", TcpTransport.Epoll)]
    [InlineData("sockets", TcpTransport.Sockets)]
    [InlineData("auto", TcpTransport.Epoll)] // these tests run on Linux
    public void The_transport_is_read_with_auto_meaning_epoll_on_linux(string value, TcpTransport expected)
    {
        Assert.True(OperatingSystem.IsLinux(), "the epoll transport's tests run on Linux");
        var settings = TcpStoreSettings.Create(ConfigurationFactory.ParseString($"tcp.transport = {value}"));
        Assert.Equal(expected, settings.Listener.Transport);
    }

    [Fact]
    public void An_unknown_transport_is_refused_with_the_key_named()
    {
        var error = Assert.Throws<ConfigurationException>(
            () => TcpStoreSettings.Create(ConfigurationFactory.ParseString("tcp.transport = iouring")));
        Assert.Contains("tcp.transport", error.Message);
    }

    [Fact]
    public void The_store_runs_on_loop_0_only_with_the_epoll_transport_and_store_on_loop()
    {
        Assert.Equal("tcpstore.tcp.event-loops.loop-0",
            TcpStoreSettings.Create(ConfigurationFactory.ParseString("tcp.transport = epoll")).StoreDispatcher);
        Assert.Null(TcpStoreSettings.Create(ConfigurationFactory.ParseString("tcp.transport = sockets")).StoreDispatcher);
        Assert.Null(TcpStoreSettings.Create(ConfigurationFactory.ParseString(
            "tcp.transport = epoll\ntcp.event-loops.store-on-loop = off")).StoreDispatcher);
    }

    [Fact]
    public void Connection_hosts_default_to_one_per_processor()
    {
        Assert.Equal(Environment.ProcessorCount, TcpStoreSettings.Create(Config.Empty).Listener.ConnectionHosts);
        Assert.Equal(Environment.ProcessorCount,
            TcpStoreSettings.Create(ConfigurationFactory.ParseString("tcp.connection-hosts = 0")).Listener.ConnectionHosts);
        Assert.Equal(1, TcpStoreSettings.Create(ConfigurationFactory.ParseString("tcp.connection-hosts = 1")).Listener.ConnectionHosts);
    }

    [Theory]
    [InlineData("port = 70000")]
    [InlineData("limits.max-key-bytes = 0")]
    [InlineData("limits.max-connections = -1")]
    [InlineData("tcp.connection-hosts = -1")]
    [InlineData("tcp.event-loops.count = -1")]
    [InlineData("tcp.event-loops.count = 257")]
    [InlineData("tcp.event-loops.throughput = 0")]
    [InlineData("tcp.event-loops.max-turn = 0s")]
    [InlineData("tcp.event-loops.max-turn = 200us")] // HOCON durations have no "us": Akka's reader throws a FormatException
    [InlineData("tcp.event-loops.count = many")]
    public void Out_of_range_or_malformed_settings_are_refused_with_the_key_named(string hocon)
    {
        var error = Assert.Throws<ConfigurationException>(
            () => TcpStoreSettings.Create(ConfigurationFactory.ParseString(hocon)));
        Assert.Contains(hocon.Split(' ')[0], error.Message);
    }
}
