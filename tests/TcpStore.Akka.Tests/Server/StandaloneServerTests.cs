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
}
