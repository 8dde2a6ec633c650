using System.Diagnostics;
using System.Net;
using TcpStore.Akka.Status;
using TcpStore.Akka.Tests.Support;

namespace TcpStore.Akka.Tests.Server;

/// <summary>The standalone server's <c>--admin-port</c>: off by default, on loopback when given.</summary>
public sealed class AdminServerTests
{
    [Fact]
    public async Task Admin_port_serves_health_and_status_on_loopback()
    {
        using var server = ServerProcess.Start("--host", "127.0.0.1", "--port", "0", "--admin-port", "0");
        try
        {
            var (port, output) = await ServerProcess.ReadUntilReadyAsync(server);
            var adminLine = output.Single(l => l.StartsWith("ADMIN ", StringComparison.Ordinal));
            Assert.True(output.IndexOf(adminLine) < output.Count - 1, "ADMIN comes before READY");
            const string logged = "TcpStore admin endpoint on http://127.0.0.1:";
            await ServerProcess.ReadUntilLoggedAsync(server, output, logged);
            Assert.Contains(output, l => l.Contains(logged, StringComparison.Ordinal));
            var admin = new Uri($"http://127.0.0.1:{int.Parse(adminLine[6..])}/");

            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
            using var health = await http.GetAsync(new Uri(admin, "healthz"));
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
            var report = await new AdminStatusClient(http).GetStatusAsync(admin);
            Assert.Equal($"127.0.0.1:{port}", report.Address);

            await ServerProcess.StopAsync(server);
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
        using var server = ServerProcess.Start("--host", "127.0.0.1", "--port", "0");
        try
        {
            var (_, output) = await ServerProcess.ReadUntilReadyAsync(server);
            Assert.DoesNotContain(output, l => l.StartsWith("ADMIN ", StringComparison.Ordinal) || l.Contains("admin endpoint", StringComparison.Ordinal));
        }
        finally
        {
            await ServerProcess.StopAsync(server);
        }
    }
}
