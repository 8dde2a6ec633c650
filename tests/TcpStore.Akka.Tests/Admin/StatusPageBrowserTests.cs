using System.Diagnostics;
using System.Text.RegularExpressions;
using TcpStore.TestSupport;
using Xunit.Abstractions;
using static TcpStore.TestSupport.Wire;

namespace TcpStore.Akka.Tests.Admin;

/// <summary>
/// The status page in a real headless browser (Debian's chromium, which <c>.ci/run</c> installs), while a stuck job's
/// clients wait on keys: the DOM after the page's script ran must show those keys, their counts and peers.
/// Set <c>TCPSTORE_STATUS_SCREENSHOT=docs/status-page.png</c> to keep the screenshot it takes.
/// </summary>
public sealed class StatusPageBrowserTests(ITestOutputHelper output)
{
    private const string Barrier = "store_based_barrier_key:1";
    private const string LastWorker = Barrier + ":last_worker";
    private const int Arrived = 6;

    [Fact]
    public async Task The_page_shows_the_awaited_keys_with_their_waiting_counts_and_peers()
    {
        var chromium = FindChromium();
        await using var admin = await AdminServer.StartAsync();
        var clients = new List<RawClient>();
        try
        {
            // A job of 8 ranks stuck in its store-based barrier: ranks 0-5 arrived (each ADDed to the counter and
            // waits for the last worker's key); rank 0 also waits for the addresses of the missing ranks 6 and 7.
            for (var rank = 0; rank < Arrived; rank++)
            {
                var client = await RawClient.ConnectAsync(admin.Store.Port);
                clients.Add(client);
                await client.SendAsync(Set($"rank/{rank}/addr", $"node-{rank / 4}:{29400 + rank}"), Add(Barrier, 1));
                await client.ReadInt64Async();
                await client.SendAsync(Wait(LastWorker));
            }
            var coordinator = await RawClient.ConnectAsync(admin.Store.Port);
            clients.Add(coordinator);
            await coordinator.SendAsync(Wait("rank/6/addr", "rank/7/addr"));
            // And one rank of another job waits at a server-side BARRIER (PyTorch 2.12) of 3.
            var barrierRank = await RawClient.ConnectAsync(admin.Store.Port);
            clients.Add(barrierRank);
            await barrierRank.SendAsync(Wire.Barrier("epoch/1", 3));
            await admin.WaitForWaitersAsync(Arrived + 2);

            var dom = await RunChromiumAsync(chromium, "--dump-dom", admin.Endpoint.BaseAddress.ToString());

            var barrierRow = Row(dom, LastWorker);
            Assert.Contains($"data-waiting=\"{Arrived}\"", barrierRow);
            foreach (var client in clients.Take(Arrived))
                Assert.Contains($">{client.Socket.LocalEndPoint}<", barrierRow);
            foreach (var missing in new[] { "rank/6/addr", "rank/7/addr" })
            {
                var row = Row(dom, missing);
                Assert.Contains("data-waiting=\"1\"", row);
                Assert.Contains($">{coordinator.Socket.LocalEndPoint}<", row);
            }
            var epochRow = Row(dom, "epoch/1", table: "barriers");
            Assert.Contains("data-waiting=\"1\"", epochRow);
            Assert.Contains(">1 / 3<", epochRow);
            Assert.Contains($">{barrierRank.Socket.LocalEndPoint}<", epochRow);
            Assert.Contains($"id=\"tile-waiting-connections\"><div class=\"value\">{Arrived + 2}<", dom);
            Assert.Contains("id=\"tile-keys\"><div class=\"value\">8<", dom); // six addresses, the counter, the barrier's count
            Assert.Contains($"<td class=\"value\">{Arrived}</td>", Row(dom, Barrier, table: "keys"));
            Assert.Contains("updated ", dom); // the script rendered, not the loading placeholder

            var screenshot = Path.Combine(Path.GetTempPath(), $"tcpstore-status-{Guid.NewGuid():N}.png");
            try
            {
                await RunChromiumAsync(chromium, $"--screenshot={screenshot}", "--window-size=1200,900",
                    admin.Endpoint.BaseAddress.ToString());
                var png = await File.ReadAllBytesAsync(screenshot);
                Assert.True(png.Length > 10_000, $"screenshot of {png.Length} bytes");
                Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], png[..4]);
                if (Environment.GetEnvironmentVariable("TCPSTORE_STATUS_SCREENSHOT") is { Length: > 0 } keep)
                    File.Copy(screenshot, keep, overwrite: true);
            }
            finally
            {
                File.Delete(screenshot);
            }
        }
        finally
        {
            foreach (var client in clients) await client.DisposeAsync();
        }
    }

    /// <summary>The table row (in table <paramref name="table"/>) whose data-key is <paramref name="key"/>.</summary>
    private static string Row(string dom, string key, string table = "awaited")
    {
        var section = dom[dom.IndexOf($"<table id=\"{table}\"", StringComparison.Ordinal)..];
        section = section[..section.IndexOf("</table>", StringComparison.Ordinal)];
        var match = Regex.Match(section, $"<tr data-key=\"{Regex.Escape(key)}\"[^>]*>.*?</tr>", RegexOptions.Singleline);
        Assert.True(match.Success, $"no row for {key} in table {table}:\n{section}");
        return match.Value;
    }

    private static string FindChromium()
    {
        foreach (var name in new[] { "chromium", "chromium-browser" })
        {
            foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
            {
                var path = Path.Combine(dir, name);
                if (File.Exists(path)) return path;
            }
        }
        Assert.Fail("chromium is not installed: this test needs Debian's `chromium` (.ci/run installs it: apt-get install -y chromium)");
        return null!;
    }

    private async Task<string> RunChromiumAsync(string chromium, params string[] args)
    {
        var profile = Directory.CreateTempSubdirectory("tcpstore-chromium-");
        try
        {
            var info = new ProcessStartInfo(chromium)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var arg in new[]
                     {
                         "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync",
                         "--disable-dev-shm-usage", $"--user-data-dir={profile.FullName}", "--virtual-time-budget=5000",
                     })
            {
                info.ArgumentList.Add(arg);
            }
            foreach (var arg in args) info.ArgumentList.Add(arg);

            using var process = Process.Start(info) ?? throw new InvalidOperationException("could not start chromium");
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                Assert.Fail("chromium did not finish within 120 s: " + await stderr);
            }
            var errors = await stderr;
            Assert.True(process.ExitCode == 0, $"chromium exited with {process.ExitCode}: {errors}");
            output.WriteLine($"chromium {string.Join(' ', args)}: exit 0");
            return await stdout;
        }
        finally
        {
            profile.Delete(recursive: true);
        }
    }
}
