using System.Diagnostics;
using System.Text.RegularExpressions;

namespace TcpStore.Akka.Jepsen.Harness;

/// <summary>
/// A private network for the nodes: each node in its own network namespace, joined by a veth pair to one bridge in
/// this process's namespace, which also carries an address so that the workload (running here) reaches every node.
/// Partitions are real: <c>ip route add blackhole PEER/32</c> inside a node's namespace drops everything it sends to
/// that peer (one way); the same in both namespaces cuts both ways. The clients' traffic (from the bridge's address)
/// is never cut: only the links between nodes are.
/// </summary>
/// <remarks>
/// Names carry this process's id (<c>tsj{pid}…</c>), so runs of several engineers on one machine never collide, and a
/// run that died without cleaning up is swept by the next one (<see cref="SweepStale"/>). Requires root and
/// <c>/usr/sbin/ip</c>; nothing leaves the machine (the bridge has no uplink and forwarding is not touched).
/// </remarks>
public sealed partial class NetworkLab : IAsyncDisposable
{
    private const string Ip = "/usr/sbin/ip";
    private readonly Action<string> _log;
    private readonly string _prefix;
    private readonly List<string> _namespaces = [];
    private readonly List<string> _hostLinks = [];
    private readonly HashSet<(int From, int To)> _cuts = [];
    private bool _bridgeCreated;

    private NetworkLab(Action<string> log, string prefix, string subnet)
    {
        _log = log;
        _prefix = prefix;
        Subnet = subnet;
    }

    /// <summary>The /24 the nodes live in, as its first three octets (e.g. <c>10.231.17</c>).</summary>
    public string Subnet { get; }

    /// <summary>The address of this process on the bridge (where the workload's connections come from).</summary>
    public string BridgeAddress => $"{Subnet}.1";

    public string Bridge => $"{_prefix}br";

    public IReadOnlyList<string> Namespaces => _namespaces;

    /// <summary>The address of node <paramref name="index"/>.</summary>
    public string AddressOf(int index) => $"{Subnet}.{11 + index}";

    /// <summary>The directions currently cut, as (from, to) node indexes.</summary>
    public IReadOnlyCollection<(int From, int To)> Cuts => _cuts;

    /// <summary>Creates the bridge and <paramref name="nodes"/> namespaces, each with its address and loopback up.</summary>
    public static async Task<NetworkLab> CreateAsync(int nodes, Action<string> log)
    {
        await SweepStale(log);
        var prefix = $"tsj{Environment.ProcessId}";
        var lab = new NetworkLab(log, prefix, await FreeSubnetAsync());
        try
        {
            await RunIp("link", "add", lab.Bridge, "type", "bridge");
            lab._bridgeCreated = true;
            await RunIp("addr", "add", $"{lab.BridgeAddress}/24", "dev", lab.Bridge);
            await RunIp("link", "set", lab.Bridge, "up");
            for (var i = 0; i < nodes; i++)
            {
                var ns = $"{prefix}n{i}";
                var host = $"{prefix}h{i}";
                var peer = $"{prefix}p{i}";
                await RunIp("netns", "add", ns);
                lab._namespaces.Add(ns);
                await RunIp("link", "add", host, "type", "veth", "peer", "name", peer);
                lab._hostLinks.Add(host);
                await RunIp("link", "set", peer, "netns", ns);
                await RunIp("link", "set", host, "master", lab.Bridge);
                await RunIp("link", "set", host, "up");
                await RunIp("-n", ns, "link", "set", "lo", "up");
                await RunIp("-n", ns, "addr", "add", $"{lab.AddressOf(i)}/24", "dev", peer);
                await RunIp("-n", ns, "link", "set", peer, "up");
            }
            log($"network: bridge {lab.Bridge} {lab.BridgeAddress}/24, nodes {string.Join(", ", Enumerable.Range(0, nodes).Select(i => $"{lab._namespaces[i]}={lab.AddressOf(i)}"))}");
            return lab;
        }
        catch
        {
            await lab.DisposeAsync();
            throw;
        }
    }

    /// <summary>Drops every packet node <paramref name="from"/> sends to node <paramref name="to"/>.</summary>
    public async Task CutAsync(int from, int to)
    {
        if (!_cuts.Add((from, to))) return;
        await RunIp("-n", _namespaces[from], "route", "add", "blackhole", $"{AddressOf(to)}/32");
    }

    /// <summary>Cuts both directions between <paramref name="a"/> and every node of <paramref name="others"/>.</summary>
    public async Task IsolateAsync(int a, IEnumerable<int> others)
    {
        foreach (var other in others)
        {
            await CutAsync(a, other);
            await CutAsync(other, a);
        }
    }

    /// <summary>Removes every cut.</summary>
    public async Task HealAsync()
    {
        foreach (var (from, to) in _cuts.ToList())
        {
            await RunIp("-n", _namespaces[from], "route", "del", "blackhole", $"{AddressOf(to)}/32");
            _cuts.Remove((from, to));
        }
    }

    /// <summary>The command line that runs <paramref name="program"/> inside node <paramref name="index"/>'s namespace.</summary>
    public (string FileName, string[] Arguments) InNamespace(int index, string program, params string[] arguments) =>
        (Ip, ["netns", "exec", _namespaces[index], program, .. arguments]);

    public async ValueTask DisposeAsync()
    {
        // Deleting a namespace deletes the veth end inside it and so its peer on the bridge; the host ends are deleted
        // explicitly too, for a namespace whose deletion failed.
        foreach (var ns in _namespaces) await TryIp("netns", "del", ns);
        foreach (var link in _hostLinks) await TryIp("link", "del", link);
        if (_bridgeCreated) await TryIp("link", "del", Bridge);
        _namespaces.Clear();
        _hostLinks.Clear();
        _bridgeCreated = false;
    }

    /// <summary>
    /// Removes what earlier runs left behind when they died without cleaning up: namespaces (after killing what still
    /// runs in them) and links named <c>tsj{pid}…</c> whose process no longer exists.
    /// </summary>
    public static async Task SweepStale(Action<string> log)
    {
        static bool Dead(string pid) => !Directory.Exists($"/proc/{pid}");

        var (_, namespaces) = await Run(Ip, ["netns", "list"]);
        foreach (Match m in StaleNamespace().Matches(namespaces))
        {
            if (!Dead(m.Groups["pid"].Value)) continue;
            var ns = m.Groups["name"].Value;
            var (_, pids) = await Run(Ip, ["netns", "pids", ns]);
            foreach (var pid in pids.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (int.TryParse(pid, out var orphan)) Signals.Kill(orphan);
            }
            await TryIp("netns", "del", ns);
            log($"network: swept the namespace {ns} of a run that is gone");
        }

        var (_, links) = await Run(Ip, ["-o", "link", "show"]);
        foreach (Match m in StaleLink().Matches(links))
        {
            if (!Dead(m.Groups["pid"].Value)) continue;
            await TryIp("link", "del", m.Groups["name"].Value);
            log($"network: swept the link {m.Groups["name"].Value} of a run that is gone");
        }
    }

    [GeneratedRegex(@"^(?<name>tsj(?<pid>\d+)n\d+)\b", RegexOptions.Multiline)]
    private static partial Regex StaleNamespace();

    [GeneratedRegex(@"^\d+: (?<name>tsj(?<pid>\d+)(br|h\d+))[@:]", RegexOptions.Multiline)]
    private static partial Regex StaleLink();

    /// <summary>A 10.231.X.0/24 that no route of this machine uses yet (another run's, say).</summary>
    private static async Task<string> FreeSubnetAsync()
    {
        var (_, routes) = await Run(Ip, ["-4", "route", "show"]);
        var start = Environment.ProcessId % 240;
        for (var i = 0; i < 240; i++)
        {
            var subnet = $"10.231.{(start + i) % 240 + 10}";
            if (!routes.Contains(subnet + ".", StringComparison.Ordinal)) return subnet;
        }
        throw new InvalidOperationException("no free 10.231.X.0/24 for the test network");
    }

    private static async Task RunIp(params string[] arguments)
    {
        var (code, output) = await Run(Ip, arguments);
        if (code != 0) throw new InvalidOperationException($"ip {string.Join(' ', arguments)} failed ({code}): {output.Trim()}");
    }

    private static async Task TryIp(params string[] arguments) => await Run(Ip, arguments);

    /// <summary>Runs a short command (bounded: 20 s) and returns its exit code and its output (both streams).</summary>
    private static async Task<(int Code, string Output)> Run(string fileName, string[] arguments)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {fileName}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        try
        {
            await process.WaitForExitAsync(bound.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill();
            throw new TimeoutException($"{fileName} {string.Join(' ', arguments)} did not finish within 20 s");
        }
        return (process.ExitCode, await stdout + await stderr);
    }
}
