using System.Diagnostics;

namespace TcpStore.Akka.Jepsen.Harness;

/// <summary>The faults the nemesis injects. "Singleton" faults hit the node that serves the store right now.</summary>
public enum FaultKind
{
    /// <summary>SIGSTOP the singleton's node until another node serves the store, then SIGCONT: two singletons, briefly.</summary>
    PauseSingleton,

    /// <summary>
    /// The same while nothing is being written (issue 13, hole 1): writes pause, the singleton's node is stopped, and
    /// writes resume once another node serves, so they are acknowledged through the new singleton only; then SIGCONT.
    /// The resumed old singleton has nothing left to replicate, so whatever guards its replies must be more than
    /// waiting for pending writes.
    /// </summary>
    PauseQuietSingleton,

    /// <summary>SIGKILL the singleton's node; restart it (same address, new incarnation) once another node serves.</summary>
    KillSingleton,

    /// <summary>Cut both ways between the singleton's node and every other node until another serves, then heal.</summary>
    IsolateSingleton,

    /// <summary>One way: the singleton's node cannot send to any other node (it still hears them).</summary>
    SingletonCannotSend,

    /// <summary>One way: no other node can send to the singleton's node (it can still send to them).</summary>
    SingletonCannotHear,

    /// <summary>SIGSTOP another node for a few seconds.</summary>
    PauseOther,

    /// <summary>SIGKILL another node; restart it a few seconds later.</summary>
    KillOther,

    /// <summary>Cut another node off both ways for a few seconds.</summary>
    IsolateOther,

    /// <summary>Cut the link between two non-singleton nodes (both still reach the singleton): a non-transitive partition.</summary>
    SplitOthers,
}

public sealed record NemesisOptions
{
    /// <summary>A singleton fault lasts until another node serves, at most this long.</summary>
    public TimeSpan MaxHold { get; init; } = TimeSpan.FromSeconds(45);

    /// <summary>How long a singleton fault goes on after another node took over (so that writes are acknowledged through it).</summary>
    public TimeSpan LingerAfterTakeover { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary><see cref="FaultKind.PauseQuietSingleton"/>: reads only for this long before the pause.</summary>
    public TimeSpan QuietBeforePause { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a fault of another node lasts.</summary>
    public TimeSpan OtherHold { get; init; } = TimeSpan.FromSeconds(6);

    /// <summary>The bound on the cluster serving on every node again after a heal.</summary>
    public TimeSpan RecoveryTimeout { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>A node alive but not serving this long after a heal is killed and restarted (a liveness probe's job).</summary>
    public TimeSpan RestartUnresponsiveAfter { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long every node must go on serving after it first did, for the cluster to count as recovered.</summary>
    public TimeSpan StableFor { get; init; } = TimeSpan.FromSeconds(6);

    /// <summary>The quiet time between a recovery and the next fault.</summary>
    public TimeSpan Quiet { get; init; } = TimeSpan.FromSeconds(3);
}

/// <summary>One injected fault: what, on whom, when (run clock, ns), and what followed.</summary>
public sealed class FaultRecord
{
    public FaultKind Kind { get; init; }

    public string Target { get; init; } = "";

    public long StartedAt { get; init; }

    public long HealedAt { get; set; }

    public long RecoveredAt { get; set; }

    /// <summary>The node that took over the singleton during the fault, if one did.</summary>
    public string? TakenOverBy { get; set; }

    /// <summary>Seconds from the fault to the new singleton's "serving" line.</summary>
    public double? TakeoverSeconds { get; set; }

    public bool Recovered { get; set; }

    public List<string> Notes { get; } = [];

    public override string ToString() =>
        $"[{StartedAt / 1e9:0.0}s..{HealedAt / 1e9:0.0}s] {Kind} {Target}" +
        (TakenOverBy is null ? "" : $"; {TakenOverBy} took over after {TakeoverSeconds:0.0} s") +
        (Recovered ? $"; recovered {(RecoveredAt - HealedAt) / 1e9:0.0} s after the heal" : "; DID NOT RECOVER") +
        (Notes.Count > 0 ? " (" + string.Join("; ", Notes) + ")" : "");
}

/// <summary>What a fault may ask of the workload: pause every write, or the writes of one node's clients.</summary>
public interface IWorkloadSteering
{
    bool WritesPaused { set; }

    string? ReadOnlyNode { set; }
}

/// <summary>Injects faults into a <see cref="JepsenCluster"/>, heals them, and waits for the cluster to serve again.</summary>
public sealed class Nemesis(
    JepsenCluster cluster, NemesisOptions options, Func<long> now, Random random, Action<string> log, IWorkloadSteering workload)
{
    public static bool HitsSingleton(FaultKind kind) => kind is FaultKind.PauseSingleton or FaultKind.PauseQuietSingleton or FaultKind.KillSingleton
        or FaultKind.IsolateSingleton or FaultKind.SingletonCannotSend or FaultKind.SingletonCannotHear;

    /// <summary>Injects <paramref name="kind"/>, holds it, heals it, and waits for every node to serve (or records that it did not).</summary>
    public async Task<FaultRecord> InjectAsync(FaultKind kind, CancellationToken ct)
    {
        var nodes = cluster.Nodes.Count;
        var singleton = cluster.Singleton ?? 0;
        var others = Enumerable.Range(0, nodes).Where(i => i != singleton).ToList();
        var target = HitsSingleton(kind) ? singleton : others[random.Next(others.Count)];
        var second = kind == FaultKind.SplitOthers && others.Count >= 2 ? others.First(o => o != target) : -1;
        var record = new FaultRecord
        {
            Kind = kind, StartedAt = now(),
            Target = cluster.Nodes[target].Name + (HitsSingleton(kind) ? " (singleton)" : "") + (second >= 0 ? $" and {cluster.Nodes[second].Name}" : ""),
        };
        log($"fault: {kind} {record.Target}");
        var lab = cluster.Network;
        if (kind == FaultKind.PauseQuietSingleton)
        {
            // Let the writes in flight land on a majority before the pause.
            workload.WritesPaused = true;
            await Task.Delay(options.QuietBeforePause, ct);
        }
        switch (kind)
        {
            case FaultKind.PauseSingleton or FaultKind.PauseQuietSingleton or FaultKind.PauseOther:
                cluster.Nodes[target].Process?.Pause();
                break;
            case FaultKind.KillSingleton or FaultKind.KillOther:
                cluster.Nodes[target].Process?.Kill();
                break;
            case FaultKind.IsolateSingleton or FaultKind.IsolateOther:
                await lab.IsolateAsync(target, Enumerable.Range(0, nodes).Where(i => i != target));
                break;
            case FaultKind.SingletonCannotSend:
                foreach (var other in others) await lab.CutAsync(target, other);
                break;
            case FaultKind.SingletonCannotHear:
                foreach (var other in others) await lab.CutAsync(other, target);
                break;
            case FaultKind.SplitOthers:
                if (second < 0)
                {
                    record.Notes.Add("needs two nodes besides the singleton: skipped");
                    break;
                }
                await lab.CutAsync(target, second);
                await lab.CutAsync(second, target);
                break;
        }

        try
        {
            if (HitsSingleton(kind)) await HoldUntilTakeoverAsync(record, target, ct);
            else await Task.Delay(options.OtherHold, ct);
        }
        finally
        {
            // Heal whatever happens, so that the cluster's processes can be ended and the network removed cleanly.
            workload.WritesPaused = false;
            switch (kind)
            {
                case FaultKind.PauseSingleton or FaultKind.PauseQuietSingleton or FaultKind.PauseOther:
                    cluster.Nodes[target].Process?.Resume();
                    break;
                case FaultKind.KillSingleton or FaultKind.KillOther:
                    cluster.Start(target);
                    break;
                default:
                    await lab.HealAsync();
                    break;
            }
            record.HealedAt = now();
        }

        log($"fault: healed {kind} {record.Target} after {(record.HealedAt - record.StartedAt) / 1e9:0.0} s" +
            (record.TakenOverBy is null ? "" : $" ({record.TakenOverBy} took over after {record.TakeoverSeconds:0.0} s)"));
        try
        {
            record.Notes.AddRange(await cluster.AwaitHealthyAsync(options.RecoveryTimeout, options.RestartUnresponsiveAfter, options.StableFor, ct));
            record.Recovered = true;
        }
        catch (ClusterDidNotRecoverException e)
        {
            record.Notes.Add(e.Message);
        }
        finally
        {
            workload.ReadOnlyNode = null;
        }
        record.RecoveredAt = now();
        log($"fault: {record}");
        return record;
    }

    private async Task HoldUntilTakeoverAsync(FaultRecord record, int target, CancellationToken ct)
    {
        // Writes resume once requests reach the new singleton only (before that, the other nodes' gateways still
        // forward to the stopped one, which would find them pending when it resumes).
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < options.MaxHold)
        {
            var takeover = cluster.SingletonEvents.FirstOrDefault(e => e.At > record.StartedAt && e.Node != target);
            if (takeover != default)
            {
                record.TakenOverBy = cluster.Nodes[takeover.Node].Name;
                record.TakeoverSeconds = (takeover.At - record.StartedAt) / 1e9;
                workload.WritesPaused = false;
                if (record.Kind == FaultKind.PauseQuietSingleton)
                {
                    // Its own clients only read, from the moment it resumes until it has recovered: a write of theirs
                    // reaching the old singleton first would hold every later reply, reads included.
                    workload.ReadOnlyNode = cluster.Nodes[target].Name;
                }
                await Task.Delay(options.LingerAfterTakeover, ct);
                return;
            }
            await Task.Delay(100, ct);
        }
        record.Notes.Add($"no other node took over within {options.MaxHold.TotalSeconds:0} s");
    }
}
