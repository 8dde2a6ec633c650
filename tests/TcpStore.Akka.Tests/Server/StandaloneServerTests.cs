using System.Diagnostics;
using System.Net;
using TcpStore.Akka.Tests.Support;
using TcpStore.TestSupport;
using static TcpStore.TestSupport.Wire;

namespace TcpStore.Akka.Tests.Server;

/// <summary>The standalone server as a user starts it: a process, flags, a READY line, SIGTERM.</summary>
public sealed class StandaloneServerTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Serves_on_the_port_it_reports_and_stops_cleanly_on_sigterm()
    {
        await using var server = ServerProcess.Start(BuiltServer.Path, "standalone", "--host", "127.0.0.1", "--port", "0");
        var port = await server.WaitForReadyAsync(Bound);
        // Logged by the console logger's own thread, so it may come after READY.
        await server.WaitForLineAsync($"127.0.0.1:{port}", Bound);

        await using (var client = await RawClient.ConnectAsync(port))
        {
            await client.SendAsync(Set("/standalone", "ok"), Get("/standalone"));
            Assert.Equal("ok", await client.ReadStringAsync());
        }

        Assert.Equal(0, await server.StopAsync(TimeSpan.FromSeconds(30))); // killed (and so not 0) if it does not exit in time
    }

    [Fact]
    public async Task A_port_in_use_is_reported_and_exits_non_zero()
    {
        await using var first = await TestStoreServer.StartAsync();
        await using var server = ServerProcess.Start(BuiltServer.Path, "standalone", "--host", "127.0.0.1", "--port", first.Port.ToString());
        Assert.Equal(1, await server.WaitForExitAsync(Bound));
        Assert.Contains(server.Lines, line => line.Contains("could not bind", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_config_file_sets_limits_and_flags_override_it()
    {
        var config = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(config, "tcpstore { port = 1, host = \"127.0.0.1\", limits.max-key-bytes = 8 }");
            await using var server = ServerProcess.Start(BuiltServer.Path, "standalone", "--config", config, "--port", "0");
            var port = await server.WaitForReadyAsync(Bound);
            await using var client = await RawClient.ConnectAsync(port);
            await client.SendAsync(Set("/123456789", "too long for 8"));
            Assert.True(await client.ClosedByServerAsync());
        }
        finally
        {
            File.Delete(config);
        }
    }

    [Theory]
    [InlineData("epoll", "epoll, 1 event loop(s)")]
    [InlineData("sockets", "sockets, ")]
    public async Task The_transport_flag_picks_how_the_sockets_are_served(string transport, string logged)
    {
        await using var server = ServerProcess.Start(
            BuiltServer.Path, transport, "--host", "127.0.0.1", "--port", "0", "--transport", transport);
        var port = await server.WaitForReadyAsync(Bound);
        await server.WaitForLineAsync(logged, Bound);
        await using var client = await RawClient.ConnectAsync(port);
        await client.SendAsync(Ping(3));
        Assert.Equal(3u, await client.ReadUInt32Async());
    }

    [Theory]
    [InlineData("epoll")]
    [InlineData("sockets")]
    public async Task With_the_default_host_it_serves_ipv4_and_ipv6_clients(string transport)
    {
        await using var server = ServerProcess.Start(BuiltServer.Path, "dual-stack", "--port", "0", "--transport", transport);
        var port = await server.WaitForReadyAsync(Bound);
        await server.WaitForLineAsync($"[::]:{port}", Bound);

        await using (var v4 = await RawClient.ConnectAsync(IPAddress.Loopback, port))
        {
            await v4.SendAsync(Set("/family", "4"), Ping(4));
            Assert.Equal(4u, await v4.ReadUInt32Async()); // the SET, which has no reply, is applied
        }
        await using var v6 = await RawClient.ConnectAsync(IPAddress.IPv6Loopback, port);
        await v6.SendAsync(Get("/family"));
        Assert.Equal("4", await v6.ReadStringAsync());
    }

    [Theory]
    [InlineData("epoll")]
    [InlineData("sockets")]
    public async Task The_allowlist_treats_ipv4_clients_of_the_dual_stack_listener_as_ipv4(string transport)
    {
        await using var server = ServerProcess.Start(BuiltServer.Path, "allowlist", "--port", "0", "--transport", transport,
            "--config", await ConfigFileAsync("tcpstore.allowed-networks = [\"127.0.0.0/8\"]"));
        var port = await server.WaitForReadyAsync(Bound);

        await using (var v4 = await RawClient.ConnectAsync(IPAddress.Loopback, port))
        {
            await v4.SendAsync(Ping(4)); // seen by the listener as ::ffff:127.0.0.1, allowed as 127.0.0.1
            Assert.Equal(4u, await v4.ReadUInt32Async());
        }

        await using var v6 = await RawClient.ConnectAsync(IPAddress.IPv6Loopback, port);
        Assert.True(await v6.ClosedByServerAsync());
    }

    /// <summary>
    /// On a host whose IPv6 is disabled the default host still serves IPv4 clients. The host is a network namespace
    /// of the test's own (unshare) with IPv6 disabled on every interface; the server is started in it (nsenter), and
    /// so is the client that checks it (bash's /dev/tcp), since the namespace is reachable from nowhere else. (Linux
    /// still lets such a host bind the IPv6 wildcard, dual stack; a kernel without IPv6 refuses it, and the listener
    /// then binds 0.0.0.0: <see cref="Connections.ListenerBindTests"/>.)
    /// </summary>
    [Fact]
    public async Task With_ipv6_disabled_the_default_host_serves_ipv4_clients()
    {
        using var host = Process.Start(new ProcessStartInfo("unshare")
        {
            ArgumentList =
            {
                "--net", "sh", "-c",
                "ip link set lo up && sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 " +
                "net.ipv6.conf.lo.disable_ipv6=1 && echo ready && exec sleep 300",
            },
            RedirectStandardOutput = true,
            UseShellExecute = false,
        })!;
        try
        {
            using (var ready = new CancellationTokenSource(Bound))
                Assert.Equal("ready", await host.StandardOutput.ReadLineAsync(ready.Token));
            string[] inNamespace = ["nsenter", $"--net=/proc/{host.Id}/ns/net"];

            await using var server = ServerProcess.StartVia([.. inNamespace, "dotnet"], BuiltServer.Path, "no-ipv6", "--port", "0");
            var port = await server.WaitForReadyAsync(Bound);

            // VALIDATE + PING(0x01020304) from inside the namespace; the echo proves the server serves there.
            using var probe = Process.Start(new ProcessStartInfo(inNamespace[0])
            {
                ArgumentList =
                {
                    inNamespace[1], "bash", "-c",
                    $"exec 3<>/dev/tcp/127.0.0.1/{port} && printf '\\x00\\xce\\xf7\\x85\\x3c\\x0d\\x04\\x03\\x02\\x01' >&3 " +
                    "&& timeout 10 head -c 4 <&3 | od -An -tx1",
                },
                RedirectStandardOutput = true,
                UseShellExecute = false,
            })!;
            using var done = new CancellationTokenSource(Bound);
            var echo = await probe.StandardOutput.ReadToEndAsync(done.Token);
            await probe.WaitForExitAsync(done.Token);
            Assert.Equal("04 03 02 01", echo.Trim());
        }
        finally
        {
            host.Kill(entireProcessTree: true);
        }
    }

    private static async Task<string> ConfigFileAsync(string hocon)
    {
        var path = Path.Combine(Path.GetTempPath(), $"tcpstore-test-{Guid.NewGuid():N}.conf");
        await File.WriteAllTextAsync(path, hocon);
        return path;
    }
}
