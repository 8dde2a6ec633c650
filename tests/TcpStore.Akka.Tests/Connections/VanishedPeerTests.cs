using System.Diagnostics;
using TcpStore.TestSupport;

namespace TcpStore.Akka.Tests.Connections;

/// <summary>
/// A peer that vanishes without FIN or RST (host crash, partition): a client in a network namespace of the test's
/// own, behind a veth pair, WAITs; then its link goes down and it is killed, so nothing reaches the server. Only TCP
/// keepalive can tell the server, and its waiters must then go. Needs root and iproute2 (CI runs as root).
/// </summary>
public abstract class VanishedPeerTests(string transport) : IAsyncLifetime
{
    private Task<TestStoreServer> StartServerAsync(string extraHocon = "") => TestStoreServer.StartAsync(extraHocon, transport);

    private readonly string _namespace = $"tsk{Environment.ProcessId % 10000}{Random.Shared.Next(1000)}";
    private readonly string _hostLink = $"tskh{Random.Shared.Next(100000)}";
    private readonly string _subnet = $"10.{Random.Shared.Next(200, 250)}.{Random.Shared.Next(1, 250)}";

    private string HostAddress => $"{_subnet}.1";

    public async Task InitializeAsync()
    {
        var peerLink = _hostLink.Replace("tskh", "tskp", StringComparison.Ordinal);
        await Run("ip", $"netns add {_namespace}");
        await Run("ip", $"link add {_hostLink} type veth peer name {peerLink}");
        await Run("ip", $"link set {peerLink} netns {_namespace}");
        await Run("ip", $"addr add {HostAddress}/30 dev {_hostLink}");
        await Run("ip", $"link set {_hostLink} up");
        await Run("ip", $"netns exec {_namespace} ip addr add {_subnet}.2/30 dev {peerLink}");
        await Run("ip", $"netns exec {_namespace} ip link set {peerLink} up");
        await Run("ip", $"netns exec {_namespace} ip link set lo up");
    }

    public async Task DisposeAsync()
    {
        await Run("ip", $"link del {_hostLink}", check: false);
        await Run("ip", $"netns del {_namespace}", check: false);
    }

    private static async Task<string> Run(string file, string arguments, bool check = true)
    {
        var info = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(info)!;
        var output = await process.StandardOutput.ReadToEndAsync() + await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (check && process.ExitCode != 0)
            throw new InvalidOperationException($"`{file} {arguments}` failed ({process.ExitCode}): {output}");
        return output;
    }

    /// <summary>A client inside the namespace: VALIDATE, then WAIT on one missing key, then it just sits there.</summary>
    private Process StartWaitingClient(int port)
    {
        // 00 ce f7 85 3c = VALIDATE; 06, u64 1, u64 7, "/vanish" = WAIT ["/vanish"].
        const string request = @"\x00\xce\xf7\x85\x3c\x06\x01\x00\x00\x00\x00\x00\x00\x00\x07\x00\x00\x00\x00\x00\x00\x00/vanish";
        var script = $"exec 3<>/dev/tcp/{HostAddress}/{port}; printf '{request}' >&3; sleep 120";
        var info = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "netns", "exec", _namespace, "bash", "-c", script }) info.ArgumentList.Add(arg);
        return Process.Start(info)!;
    }

    private async Task<bool> VanishAndCheckReapedAsync(TestStoreServer server, TimeSpan within)
    {
        using var client = StartWaitingClient(server.Port);
        try
        {
            Assert.True(await TestStoreServer.EventuallyAsync(
                async () => (await server.StatsAsync()).WaitingConnections == 1, TimeSpan.FromSeconds(15)),
                "the namespaced client's WAIT never registered");
            // Cut the link first, so that killing the client cannot deliver a FIN or RST.
            await Run("ip", $"link set {_hostLink} down");
            client.Kill(entireProcessTree: true);
            return await TestStoreServer.EventuallyAsync(
                async () => (await server.StatsAsync()).WaiterRegistrations == 0, within);
        }
        finally
        {
            if (!client.HasExited) client.Kill(entireProcessTree: true);
        }
    }

    [Fact]
    public async Task Keepalive_reaps_the_waiters_of_a_peer_that_vanished_without_fin_or_reset()
    {
        await using var server = await StartServerAsync($"""
            tcpstore.host = "{HostAddress}"
            tcpstore.tcp.keepalive.enabled = on
            tcpstore.tcp.keepalive.idle = 1s
            tcpstore.tcp.keepalive.interval = 1s
            tcpstore.tcp.keepalive.probes = 2
            """);
        Assert.True(await VanishAndCheckReapedAsync(server, TimeSpan.FromSeconds(20)),
            "the vanished peer's waiter registration was not reaped");
        Assert.Equal(0, (await server.StatsAsync()).WaitingConnections);
    }

    [Fact]
    public async Task Without_keepalive_the_waiters_of_a_vanished_peer_linger()
    {
        // The control: the same vanishing, keepalive off, and the registration stays (as on PyTorch's servers).
        await using var server = await StartServerAsync($"""
            tcpstore.host = "{HostAddress}"
            tcpstore.tcp.keepalive.enabled = off
            """);
        Assert.False(await VanishAndCheckReapedAsync(server, TimeSpan.FromSeconds(6)));
        Assert.Equal(1, (await server.StatsAsync()).WaitingConnections);
    }
}

/// <summary><see cref="VanishedPeerTests"/> over the epoll transport.</summary>
public sealed class VanishedPeerTestsOverEpoll() : VanishedPeerTests("epoll");

/// <summary><see cref="VanishedPeerTests"/> over the .NET sockets transport.</summary>
public sealed class VanishedPeerTestsOverSockets() : VanishedPeerTests("sockets");
