using System.Diagnostics;
using System.Net;
using System.Reflection;
using TcpStore.Akka.Status;

namespace TcpStore.Akka.Tests.Server;

/// <summary>The standalone server's <c>--admin-port</c>: off by default, on loopback when given.</summary>
public sealed class AdminServerTests
{
    private static string ServerAssembly =>
        typeof(AdminServerTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
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
        info.Environment.Remove("TCPSTORE_ADMIN_PORT");
        return Process.Start(info) ?? throw new InvalidOperationException("could not start the server");
    }

    /// <summary>Standard output up to and including the READY line.</summary>
    private static async Task<List<string>> ReadUntilReadyAsync(Process server)
    {
        var output = new List<string>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (await server.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
        {
            output.Add(line);
            if (line.StartsWith("READY ", StringComparison.Ordinal)) return output;
        }
        throw new InvalidOperationException("server exited before READY: " + string.Join('\n', output));
    }

    private static async Task StopAsync(Process server)
    {
        if (server.HasExited) return;
        Process.Start("kill", ["-TERM", server.Id.ToString()])!.WaitForExit();
        using var exit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await server.WaitForExitAsync(exit.Token);
        }
        finally
        {
            if (!server.HasExited) server.Kill(entireProcessTree: true);
        }
    }

    [Fact]
    public async Task Admin_port_serves_health_and_status_on_loopback()
    {
        using var server = Start("--host", "127.0.0.1", "--port", "0", "--admin-port", "0");
        try
        {
            var output = await ReadUntilReadyAsync(server);
            var port = int.Parse(output.Single(l => l.StartsWith("READY ", StringComparison.Ordinal))[6..]);
            var adminLine = output.Single(l => l.StartsWith("ADMIN ", StringComparison.Ordinal));
            Assert.True(output.IndexOf(adminLine) < output.Count - 1, "ADMIN comes before READY");
            // The log line is written by the console logger's own thread: it may come after READY.
            const string logged = "TcpStore admin endpoint on http://127.0.0.1:";
            using (var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
            {
                while (!output.Any(l => l.Contains(logged, StringComparison.Ordinal)) &&
                       await server.StandardOutput.ReadLineAsync(wait.Token) is { } line)
                    output.Add(line);
            }

            Assert.Contains(output, l => l.Contains(logged, StringComparison.Ordinal));
            var admin = new Uri($"http://127.0.0.1:{int.Parse(adminLine[6..])}/");

            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
            using var health = await http.GetAsync(new Uri(admin, "healthz"));
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
            var report = await new AdminStatusClient(http).GetStatusAsync(admin);
            Assert.Equal($"127.0.0.1:{port}", report.Address);

            await StopAsync(server);
            Assert.Equal(0, server.ExitCode);
        }
        finally
        {
            if (!server.HasExited) server.Kill(entireProcessTree: true);
        }
    }

    [Fact]
    public async Task Without_admin_port_there_is_no_admin_endpoint()
    {
        using var server = Start("--host", "127.0.0.1", "--port", "0");
        try
        {
            var output = await ReadUntilReadyAsync(server);
            Assert.DoesNotContain(output, l => l.StartsWith("ADMIN ", StringComparison.Ordinal) || l.Contains("admin endpoint", StringComparison.Ordinal));
        }
        finally
        {
            await StopAsync(server);
        }
    }
}
