using System.Diagnostics;
using System.Reflection;
using TcpStore.Akka.Tests.Support;
using static TcpStore.Akka.Tests.Support.Wire;

namespace TcpStore.Akka.Tests.Server;

/// <summary>The standalone server as a user starts it: a process, flags, a READY line, SIGTERM.</summary>
public sealed class StandaloneServerTests
{
    private static string ServerAssembly =>
        typeof(StandaloneServerTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "ServerAssembly").Value!;

    private static Process Start(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Path.GetFullPath(ServerAssembly));
        foreach (var arg in args) info.ArgumentList.Add(arg);
        return Process.Start(info) ?? throw new InvalidOperationException("could not start the server");
    }

    private static async Task<(int Port, List<string> Output)> ReadUntilReadyAsync(Process server)
    {
        var output = new List<string>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (await server.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
        {
            output.Add(line);
            if (line.StartsWith("READY ", StringComparison.Ordinal)) return (int.Parse(line[6..]), output);
        }

        throw new InvalidOperationException("server exited before READY: " + string.Join('\n', output) +
                                            await server.StandardError.ReadToEndAsync());
    }

    [Fact]
    public async Task Serves_on_the_port_it_reports_and_stops_cleanly_on_sigterm()
    {
        using var server = Start("--host", "127.0.0.1", "--port", "0");
        try
        {
            var (port, output) = await ReadUntilReadyAsync(server);
            // The log line naming the address is written by the console logger's own thread: maybe after READY.
            using (var logged = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
            {
                while (!output.Any(line => line.Contains($"127.0.0.1:{port}", StringComparison.Ordinal)) &&
                       await server.StandardOutput.ReadLineAsync(logged.Token) is { } line)
                    output.Add(line);
            }

            Assert.Contains(output, line => line.Contains($"127.0.0.1:{port}", StringComparison.Ordinal));

            await using (var client = await RawClient.ConnectAsync(port))
            {
                await client.SendAsync(Set("/standalone", "ok"), Get("/standalone"));
                Assert.Equal("ok", await client.ReadStringAsync());
            }

            Process.Start("kill", ["-TERM", server.Id.ToString()])!.WaitForExit();
            using var exit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await server.WaitForExitAsync(exit.Token);
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
        using var server = Start("--host", "127.0.0.1", "--port", first.Port.ToString());
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
        using var server = Start("--config", config, "--port", "0");
        try
        {
            var (port, _) = await ReadUntilReadyAsync(server);
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
