using System.Globalization;
using System.Text;
using TcpStore.Akka.Jepsen.History;

namespace TcpStore.Akka.Jepsen.Checker;

/// <summary>The bounds of a check: the per-key search's (reported as undecided, never a hang).</summary>
public sealed record CheckerOptions
{
    public long MaxStepsPerKey { get; init; } = LinearizabilityChecker.DefaultMaxSteps;

    public TimeSpan MaxTimePerKey { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>Keys searched at once (the machine is shared: two at most by default).</summary>
    public int Parallelism { get; init; } = 2;
}

/// <summary>What the checkers found: every violation with the sub-history that shows it, and what they could not decide.</summary>
public sealed class CheckReport
{
    public List<string> Violations { get; } = [];

    /// <summary>Checks that could not decide (a key's search hit its bound, no final state was read).</summary>
    public List<string> Undecided { get; } = [];

    /// <summary>One line per checker: what it covered.</summary>
    public List<string> Summary { get; } = [];

    public bool Valid => Violations.Count == 0 && Undecided.Count == 0;

    public string Verdict => Violations.Count > 0 ? "INVALID" : Undecided.Count > 0 ? "UNKNOWN" : "VALID";

    public override string ToString()
    {
        var text = new StringBuilder();
        foreach (var line in Summary) text.AppendLine("  " + line);
        foreach (var violation in Violations) text.AppendLine("VIOLATION: " + violation);
        foreach (var undecided in Undecided) text.AppendLine("UNDECIDED: " + undecided);
        text.Append("checker verdict: ").Append(Verdict);
        return text.ToString();
    }
}

/// <summary>
/// Checks a recorded history: linearizability per key (P-compositionality: a history is linearizable iff each key's
/// sub-history is, multi-key operations split into their per-key parts), then what per-key checking cannot see:
/// that what survives of each connection's requests is a prefix of them, that a MULTI_SET is all or nothing, that a
/// rendezvous never counts an arrival whose address is missing, and the final value of every counter between the
/// acknowledged increments and those plus the unknown ones.
/// </summary>
public static class HistoryChecker
{
    public static CheckReport Check(IReadOnlyList<Operation> history, CheckerOptions? options = null)
    {
        options ??= new CheckerOptions();
        var report = new CheckReport();
        var final = FinalState(history);
        if (final is null)
            report.Undecided.Add("no final read of the state succeeded: the prefix, MULTI_SET and counter checks had nothing to compare with");

        CheckLinearizability(history, options, report);
        if (final is not null)
        {
            CheckPrefixes(history, final, report);
            CheckCounterBounds(history, final, report);
        }
        CheckMultiSets(history, report);
        CheckRendezvous(history, report);
        return report;
    }

    /// <summary>The values of the keys the harness read at the end (empty: missing), or null if it read nothing.</summary>
    public static Dictionary<string, string>? FinalState(IReadOnlyList<Operation> history)
    {
        var reads = history.Where(o => o is { Final: true, Outcome: OpOutcome.Ok, Function: OpFunction.MultiGet }).ToList();
        if (reads.Count == 0) return null;
        var state = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var read in reads)
        {
            for (var i = 0; i < read.Keys.Length; i++) state[read.Keys[i]] = read.Output![i];
        }
        return state;
    }

    // -------------------------------------------------------------------------------------------------------------
    // Linearizability per key
    // -------------------------------------------------------------------------------------------------------------

    private static void CheckLinearizability(IReadOnlyList<Operation> history, CheckerOptions options, CheckReport report)
    {
        var byKey = Decompose(history);
        var results = new (string Key, KeyModel Model, List<ModelOp> Ops, LinearizabilityResult Result)[byKey.Count];
        var keys = byKey.Keys.Order(StringComparer.Ordinal).ToArray();
        Parallel.For(0, keys.Length, new ParallelOptions { MaxDegreeOfParallelism = options.Parallelism }, i =>
        {
            var key = keys[i];
            var model = KeySpace.ModelOf(key);
            var ops = byKey[key];
            results[i] = (key, model, ops,
                LinearizabilityChecker.Check(ModelFor(model), ops, options.MaxStepsPerKey, options.MaxTimePerKey));
        });

        var counts = results.GroupBy(r => r.Result.Verdict).ToDictionary(g => g.Key, g => g.Count());
        report.Summary.Add(
            $"linearizability: {keys.Length} keys ({string.Join(", ", results.GroupBy(r => r.Model).Select(g => $"{g.Count()} {ModelFor(g.Key).Name}"))}), " +
            $"{results.Sum(r => r.Ops.Count)} key operations, largest {results.Select(r => r.Ops.Count).DefaultIfEmpty().Max()}: " +
            $"{counts.GetValueOrDefault(Linearizability.Linearizable)} linearizable, " +
            $"{counts.GetValueOrDefault(Linearizability.NotLinearizable)} not, {counts.GetValueOrDefault(Linearizability.Unknown)} undecided; " +
            $"{results.Sum(r => r.Result.Steps)} search steps");
        foreach (var (key, model, ops, result) in results)
        {
            if (result.Verdict == Linearizability.NotLinearizable)
                report.Violations.Add(DescribeViolation(key, ModelFor(model), ops, result));
            else if (result.Verdict == Linearizability.Unknown)
                report.Undecided.Add($"key {key} ({ModelFor(model).Name}, {ops.Count} operations, " +
                                     $"{ops.Count(o => o.Return == Operation.Never)} of unknown outcome): too large, the search stopped after {result.Steps} steps");
        }
    }

    private static IModel ModelFor(KeyModel model) => model switch
    {
        KeyModel.Register => RegisterModel.Instance,
        KeyModel.Counter => CounterModel.Instance,
        _ => QueueModel.Instance,
    };

    /// <summary>Splits the history into one sub-history per key; reads of unknown outcome are dropped (they constrain nothing).</summary>
    public static Dictionary<string, List<ModelOp>> Decompose(IReadOnlyList<Operation> history)
    {
        var byKey = new Dictionary<string, List<ModelOp>>(StringComparer.Ordinal);
        foreach (var op in history)
        {
            var unknown = op.Outcome == OpOutcome.Unknown;
            if (unknown && !op.IsWrite) continue;
            if (op.Outcome == OpOutcome.Fail && op.Function != OpFunction.Barrier) continue; // a canceled WAIT
            var ret = unknown ? Operation.Never : op.Complete;
            var known = !unknown;

            void Add(string key, ModelOpKind kind, string value = "", string expected = "", long number = 0,
                string outValue = "", long outNumber = 0, bool hasOutput = false, long? returnAt = null)
            {
                if (!byKey.TryGetValue(key, out var list)) byKey[key] = list = [];
                list.Add(new ModelOp
                {
                    Kind = kind, Invoke = op.Invoke, Return = returnAt ?? ret, Value = value, Expected = expected,
                    Number = number, HasOutput = hasOutput, OutValue = outValue, OutNumber = outNumber, Source = op,
                });
            }

            switch (op.Function)
            {
                case OpFunction.Set:
                    Add(op.Keys[0], ModelOpKind.Set, op.Values[0]);
                    break;
                case OpFunction.Append:
                    Add(op.Keys[0], ModelOpKind.Append, op.Values[0]);
                    break;
                case OpFunction.MultiSet:
                    for (var i = 0; i < op.Keys.Length; i++) Add(op.Keys[i], ModelOpKind.Set, op.Values[i]);
                    break;
                case OpFunction.Get:
                    Add(op.Keys[0], ModelOpKind.Get, outValue: op.Output![0], hasOutput: true);
                    break;
                case OpFunction.MultiGet:
                    for (var i = 0; i < op.Keys.Length; i++) Add(op.Keys[i], ModelOpKind.Get, outValue: op.Output![i], hasOutput: true);
                    break;
                case OpFunction.Check:
                    if (op.Keys.Length == 1) Add(op.Keys[0], ModelOpKind.Check, outNumber: op.OutputNumber!.Value, hasOutput: true);
                    else if (op.OutputNumber == 1) // ready: every key existed at that one point
                        foreach (var key in op.Keys) Add(key, ModelOpKind.Check, outNumber: 1, hasOutput: true);
                    break;
                case OpFunction.Wait:
                    // Each key existed at some point between the WAIT and its STOP_WAITING (a key deleted after it was
                    // counted stays counted, §3.2, so not necessarily all at once).
                    foreach (var key in op.Keys) Add(key, ModelOpKind.AwaitExists);
                    break;
                case OpFunction.CompareSet:
                    Add(op.Keys[0], ModelOpKind.CompareSet, op.Values[1], op.Values[0],
                        outValue: known ? op.Output![0] : "", hasOutput: known);
                    break;
                case OpFunction.Delete:
                    Add(op.Keys[0], ModelOpKind.Delete, outNumber: op.OutputNumber ?? 0, hasOutput: known);
                    break;
                case OpFunction.Add:
                    Add(op.Keys[0], ModelOpKind.Add, number: op.Number, outNumber: op.OutputNumber ?? 0, hasOutput: known);
                    break;
                case OpFunction.Barrier:
                    // The arrival counts whether or not its wait was released (a canceled wait keeps it counted);
                    // released, the count had reached the world size by the STOP_WAITING.
                    Add(op.Keys[0], ModelOpKind.BarrierArrive);
                    if (op.Outcome == OpOutcome.Ok) Add(op.Keys[0], ModelOpKind.BarrierReleased, number: op.Number);
                    break;
                case OpFunction.QueuePush:
                    Add(op.Keys[0], ModelOpKind.Push, op.Values[0]);
                    break;
                case OpFunction.QueuePop:
                    Add(op.Keys[0], ModelOpKind.Pop, outValue: known ? op.Output?[0] ?? "" : "",
                        outNumber: op.OutputNumber ?? 0, hasOutput: known);
                    break;
                case OpFunction.QueueLen:
                    Add(op.Keys[0], ModelOpKind.Len, outNumber: op.OutputNumber!.Value, hasOutput: true);
                    break;
                default:
                    throw new InvalidOperationException($"the checker has no model for {op}");
            }
        }
        return byKey;
    }

    private static string DescribeViolation(string key, IModel model, List<ModelOp> ops, LinearizabilityResult result)
    {
        var text = new StringBuilder();
        text.AppendLine($"key {key} ({model.Name}, {ops.Count} operations) is not linearizable.");
        const int shown = 25;
        var deepest = result.Deepest;
        text.AppendLine($"  longest linearization found ({deepest.Count} operations{(deepest.Count > shown ? $", last {shown} shown" : "")}), state after each:");
        foreach (var (op, after) in deepest.Skip(Math.Max(0, deepest.Count - shown)))
            text.AppendLine($"    {op,-110} => {model.Describe(after)}");
        if (result.Stuck is { } stuck)
        {
            text.AppendLine($"  then no order linearizes, before it returned: {stuck}");
            if (result.Pending.Count > 0)
            {
                text.AppendLine($"  operations open at that point ({result.Pending.Count}, of which none fits first):");
                foreach (var op in result.Pending.Take(shown)) text.AppendLine($"    {op}");
            }
        }
        return text.ToString().TrimEnd();
    }

    // -------------------------------------------------------------------------------------------------------------
    // What survives of a connection's requests is a prefix of them
    // -------------------------------------------------------------------------------------------------------------

    /// <summary>
    /// For each connection, its writes of write-once keys in the order it sent them (a MULTI_SET is one unit): the
    /// ones present in the final state must be a prefix, and every acknowledged one must be present.
    /// </summary>
    private static void CheckPrefixes(IReadOnlyList<Operation> history, Dictionary<string, string> final, CheckReport report)
    {
        var connections = 0;
        var units = 0;
        foreach (var connection in history
                     .Where(o => o is { Final: false, Function: OpFunction.Set or OpFunction.MultiSet } && o.Keys.All(KeySpace.IsWriteOnce))
                     .GroupBy(o => o.Connection))
        {
            connections++;
            var writes = connection.OrderBy(o => o.Sequence).ToList();
            units += writes.Count;
            var survived = writes.Select(w => w.Keys.Any(k => final.TryGetValue(k, out var v) && v.Length > 0)).ToList();
            var firstMissing = survived.IndexOf(false);
            var laterSurvivor = firstMissing < 0 ? -1 : survived.FindIndex(firstMissing + 1, s => s);
            var lostAcknowledged = writes.Where((w, i) => w.Outcome == OpOutcome.Ok && !survived[i]).ToList();
            if (laterSurvivor < 0 && lostAcknowledged.Count == 0) continue;

            var text = new StringBuilder();
            if (laterSurvivor >= 0)
                text.AppendLine($"connection {connection.Key}: what survived of its requests is not a prefix of them " +
                                $"(request {firstMissing + 1} of {writes.Count} is missing from the final state, request {laterSurvivor + 1} is there):");
            if (lostAcknowledged.Count > 0)
                text.AppendLine($"connection {connection.Key}: {lostAcknowledged.Count} acknowledged writes are missing from the final state:");
            for (var i = 0; i < writes.Count; i++)
                text.AppendLine($"    {(survived[i] ? "present" : "MISSING")}  {writes[i]}");
            report.Violations.Add(text.ToString().TrimEnd());
        }
        report.Summary.Add($"prefix per connection: {connections} connections, {units} writes of write-once keys checked against the final state");
    }

    // -------------------------------------------------------------------------------------------------------------
    // MULTI_SET is all or nothing
    // -------------------------------------------------------------------------------------------------------------

    private static void CheckMultiSets(IReadOnlyList<Operation> history, CheckReport report)
    {
        var groups = history.Where(o => o is { Function: OpFunction.MultiSet, Final: false }).ToList();
        var groupOf = new Dictionary<string, Operation>(StringComparer.Ordinal);
        foreach (var group in groups)
        {
            foreach (var key in group.Keys) groupOf[key] = group;
        }

        var reads = 0;
        foreach (var read in history.Where(o => o is { Function: OpFunction.MultiGet, Outcome: OpOutcome.Ok }))
        {
            // Every group whose keys this read covers entirely must be all there or all missing in it.
            var index = read.Keys.Select((k, i) => (k, i)).ToDictionary(p => p.k, p => p.i, StringComparer.Ordinal);
            foreach (var group in read.Keys.Where(groupOf.ContainsKey).Select(k => groupOf[k]).Distinct())
            {
                if (!group.Keys.All(index.ContainsKey)) continue;
                reads++;
                var present = group.Keys.Select(k => read.Output![index[k]].Length > 0).ToList();
                if (present.Distinct().Count() > 1)
                    report.Violations.Add($"MULTI_SET applied in part: {read} saw " +
                                          string.Join(", ", group.Keys.Zip(present, (k, p) => $"{k} {(p ? "present" : "MISSING")}")) +
                                          $" of\n    {group}");
            }
        }
        report.Summary.Add($"MULTI_SET all or nothing: {groups.Count} MULTI_SETs, {reads} reads of a whole group (the final read included)");
    }

    // -------------------------------------------------------------------------------------------------------------
    // A rendezvous never counts an arrival whose address is missing
    // -------------------------------------------------------------------------------------------------------------

    /// <summary>
    /// Each rank pipelines SET of its address and ADD of the arrivals counter (as PyTorch's ranks do): in any read of
    /// the whole rendezvous, which is atomic, the count may not exceed the addresses present.
    /// </summary>
    private static void CheckRendezvous(IReadOnlyList<Operation> history, CheckReport report)
    {
        var ranks = history.Where(o => o is { Function: OpFunction.Set, Final: false } && KeySpace.RendezvousOf(o.Keys[0]) is not null)
            .GroupBy(o => KeySpace.RendezvousOf(o.Keys[0])!.Value)
            .ToDictionary(g => g.Key, g => g.Select(o => o.Keys[0]).ToHashSet(StringComparer.Ordinal));
        var reads = 0;
        foreach (var read in history.Where(o => o is { Function: OpFunction.MultiGet, Outcome: OpOutcome.Ok }))
        {
            for (var i = 0; i < read.Keys.Length; i++)
            {
                if (!read.Keys[i].EndsWith("/arrived", StringComparison.Ordinal) || KeySpace.RendezvousOf(read.Keys[i]) is not { } generation) continue;
                if (!ranks.TryGetValue(generation, out var rankKeys)) rankKeys = [];
                var present = read.Keys.Select((k, j) => (k, j)).Where(p => rankKeys.Contains(p.k)).ToList();
                if (present.Count < rankKeys.Count) continue; // this read did not cover every rank
                reads++;
                var arrived = read.Output![i].Length == 0 ? 0 : long.Parse(read.Output[i], CultureInfo.InvariantCulture);
                var addresses = present.Count(p => read.Output[p.j].Length > 0);
                if (arrived > addresses)
                    report.Violations.Add($"rendezvous {generation}: {read} counts {arrived} arrivals but only {addresses} rank addresses are present " +
                                          "(an ADD survived without the SET pipelined before it on its connection)");
            }
        }
        report.Summary.Add($"rendezvous: {ranks.Count} rendezvous, {reads} reads of a whole one (the final read included): count ≤ addresses present");
    }

    // -------------------------------------------------------------------------------------------------------------
    // Final counters between the acknowledged increments and those plus the unknown ones
    // -------------------------------------------------------------------------------------------------------------

    private static void CheckCounterBounds(IReadOnlyList<Operation> history, Dictionary<string, string> final, CheckReport report)
    {
        var checkedCounters = 0;
        foreach (var counter in history
                     .Where(o => o is { Final: false, Function: OpFunction.Add or OpFunction.Barrier } && KeySpace.ModelOf(o.Keys[0]) == KeyModel.Counter)
                     .GroupBy(o => o.Keys[0]))
        {
            if (!final.TryGetValue(counter.Key, out var text) || counter.Any(o => o.Function == OpFunction.Add && o.Number <= 0)) continue;
            checkedCounters++;
            var value = text.Length == 0 ? 0 : long.Parse(text, CultureInfo.InvariantCulture);
            long Delta(Operation o) => o.Function == OpFunction.Add ? o.Number : 1;
            var acknowledged = counter.Where(o => o.Outcome != OpOutcome.Unknown).Sum(Delta);
            var unknown = counter.Where(o => o.Outcome == OpOutcome.Unknown).Sum(Delta);
            if (value < acknowledged || value > acknowledged + unknown)
                report.Violations.Add($"counter {counter.Key}: final value {value} is outside [acknowledged {acknowledged}, " +
                                      $"acknowledged + unknown {acknowledged + unknown}]" +
                                      (value < acknowledged ? " — an acknowledged increment was lost" : " — an increment was applied twice") + ":\n" +
                                      string.Join('\n', counter.Select(o => "    " + o)));
        }
        report.Summary.Add($"counter bounds: {checkedCounters} counters, acknowledged ≤ final ≤ acknowledged + unknown");
    }
}
