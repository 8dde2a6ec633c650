using System.Diagnostics;
using TcpStore.Akka.Tests.Support;
using static TcpStore.Akka.Tests.Support.Wire;

namespace TcpStore.Akka.Tests.Server;

/// <summary>The standalone server as a user starts it: a process, flags, a READY line, SIGTERM.</summary>
public sealed class StandaloneServerTests
{
    [Fact]
    public async Task Serves_on_the_port_it_reports_and_stops_cleanly_on_sigterm()
    {
        using var server = ServerProcess.Start("--host", "127.0.0.1", "--port", "0");
        try
        {
            var (port, output) = await ServerProcess.ReadUntilReadyAsync(server);
            await ServerProcess.ReadUntilLoggedAsync(server, output, $"127.0.0.1:{port}");

            Assert.Contains(output, line => line.Contains($"127.0.0.1:{port}", StringComparison.Ordinal));

            await using (var client = await RawClient.ConnectAsync(port))
            {
                await client.SendAsync(Set("/standalone", "ok"), Get("/standalone"));
                Assert.Equal("ok", await client.ReadStringAsync());
            }

            await ServerProcess.StopAsync(server); // SIGTERM; killed (and so not 0) if it does not exit in 30 s
            Assert.Equal(0, server.ExitCode);
        }
        finally
        {
            if (!server.HasExited) server.Kill(entireProcessTree: true);
        }
    }

    [Fact]
    public async Task A_port_in_use_is_reported_and_exits_non_zero()
    {
        await using var first = await TestStoreServer.StartAsync();
        using var server = ServerProcess.Start("--host", "127.0.0.1", "--port", first.Port.ToString());
        try
        {
            using var exit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var stdout = server.StandardOutput.ReadToEndAsync(exit.Token);
            await server.WaitForExitAsync(exit.Token);
            Assert.Equal(1, server.ExitCode);
            Assert.Contains("could not bind", await stdout, StringComparison.Ordinal);
        }
        finally
        {
            if (!server.HasExited) server.Kill(entireProcessTree: true);
        }
    }

    [Fact]
    public async Task A_config_file_sets_limits_and_flags_override_it()
    {
        var config = Path.GetTempFileName();
        await File.WriteAllTextAsync(config, "tcpstore { port = 1, host = \"127.0.0.1\", limits.max-key-bytes = 8 }");
        using var server = ServerProcess.Start("--config", config, "--port", "0");
        try
        {
            var (port, _) = await ServerProcess.ReadUntilReadyAsync(server);
            await using var client = await RawClient.ConnectAsync(port);
            await client.SendAsync(Set("/123456789", "too long for 8"));
            Assert.True(await client.ClosedByServerAsync());
        }
        finally
        {
            server.Kill(entireProcessTree: true);
            File.Delete(config);
        }
    }
}
