using System.Net;
using TcpStore.Akka.Status;
using TcpStore.Akka.Tests.Support;
using TcpStore.TestSupport;

namespace TcpStore.Akka.Tests.Server;

/// <summary>The standalone server's <c>--admin-port</c>: off by default, on loopback when given.</summary>
public sealed class AdminServerTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Admin_port_serves_health_and_status_on_loopback()
    {
        await using var server = ServerProcess.Start(BuiltServer.Path, "standalone",
            "--host", "127.0.0.1", "--port", "0", "--admin-port", "0");
        var port = await server.WaitForReadyAsync(Bound);
        var lines = server.Lines.ToList();
        var adminLine = lines.FindIndex(l => l.StartsWith("ADMIN ", StringComparison.Ordinal));
        var readyLine = lines.FindIndex(l => l.StartsWith("READY ", StringComparison.Ordinal));
        Assert.True(adminLine >= 0 && adminLine < readyLine, "ADMIN comes before READY");
        await server.WaitForLineAsync("TcpStore admin endpoint on http://127.0.0.1:", Bound);
        var admin = new Uri($"http://127.0.0.1:{int.Parse(lines[adminLine][6..])}/");

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        using var health = await http.GetAsync(new Uri(admin, "healthz"));
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        var report = await new AdminStatusClient(http).GetStatusAsync(admin);
        Assert.Equal($"127.0.0.1:{port}", report.Address);

        Assert.Equal(0, await server.StopAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task Without_admin_port_there_is_no_admin_endpoint()
    {
        await using var server = ServerProcess.Start(BuiltServer.Path, "standalone", "--host", "127.0.0.1", "--port", "0");
        await server.WaitForReadyAsync(Bound);
        // Stopped first, so that every line it could log (the endpoint's comes from the logger's thread) is read.
        Assert.Equal(0, await server.StopAsync(TimeSpan.FromSeconds(30)));
        Assert.DoesNotContain(server.Lines, l => l.StartsWith("ADMIN ", StringComparison.Ordinal) ||
                                                 l.Contains("admin endpoint", StringComparison.Ordinal));
    }
}
