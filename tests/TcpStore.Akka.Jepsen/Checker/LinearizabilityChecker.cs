using System.Diagnostics;
using TcpStore.Akka.Jepsen.History;

namespace TcpStore.Akka.Jepsen.Checker;

public enum Linearizability
{
    Linearizable,
    NotLinearizable,

    /// <summary>The search hit its bound (steps or time) before it could decide: "unknown / too large".</summary>
    Unknown,
}

/// <summary>
/// The verdict on one key's history. When it is not linearizable: the longest order the search could linearize
/// (with the state after each step), and the operation whose completion no order could get past.
/// </summary>
public sealed record LinearizabilityResult(
    Linearizability Verdict,
    long Steps,
    IReadOnlyList<(ModelOp Op, string? StateAfter)> Deepest,
    ModelOp? Stuck,
    IReadOnlyList<ModelOp> Pending);

/// <summary>
/// Wing &amp; Gong's linearizability search with Lowe's memoization, as Porcupine implements it: walk the history's
/// call and return events in time order; at a call, try to linearize that operation now (its step must be legal
/// from the current state); at a return, the operation must already be linearized, so backtrack. A configuration
/// (set of linearized operations, state) already explored is not explored again. Operations whose outcome is
/// unknown return at the end of time, so they may take effect at any point after their invocation, or (placed
/// after every completed operation) in effect never.
/// </summary>
public static class LinearizabilityChecker
{
    /// <summary>The default bound: steps of the search per key (one step = one event visited).</summary>
    public const long DefaultMaxSteps = 1_000_000;

    public static LinearizabilityResult Check(
        IModel model, IReadOnlyList<ModelOp> ops, long maxSteps = DefaultMaxSteps, TimeSpan? maxTime = null)
    {
        var n = ops.Count;
        if (n == 0) return new(Linearizability.Linearizable, 0, [], null, []);

        // Events: 2n entries (call, return) in time order; at equal times calls come first (concurrent, not ordered).
        var events = new (long Time, bool IsReturn, int Op)[2 * n];
        for (var i = 0; i < n; i++)
        {
            events[2 * i] = (ops[i].Invoke, false, i);
            events[2 * i + 1] = (ops[i].Return, true, i);
        }
        Array.Sort(events, (a, b) =>
            a.Time != b.Time ? a.Time.CompareTo(b.Time)
            : a.IsReturn != b.IsReturn ? a.IsReturn.CompareTo(b.IsReturn)
            : a.Op.CompareTo(b.Op));

        // A doubly linked list over the events, with a head sentinel at index 2n.
        var head = 2 * n;
        var next = new int[2 * n + 1];
        var prev = new int[2 * n + 1];
        var returnOf = new int[n];
        for (var e = 0; e < 2 * n; e++)
        {
            next[e] = e + 1 < 2 * n ? e + 1 : -1;
            prev[e] = e == 0 ? head : e - 1;
            if (events[e].IsReturn) returnOf[events[e].Op] = e;
        }
        next[head] = 0;
        prev[head] = -1;

        var linearized = new ulong[(n + 63) / 64];
        var cache = new HashSet<Configuration>();
        var calls = new Stack<(int Entry, string? State)>();
        string? state = null;
        var entry = next[head];
        long steps = 0;
        var clock = Stopwatch.StartNew();
        var deepest = new List<(ModelOp, string?)>();
        ModelOp? stuck = null;

        while (next[head] != -1)
        {
            if (++steps > maxSteps || ((steps & 0xFFF) == 0 && maxTime is { } limit && clock.Elapsed > limit))
                return new(Linearizability.Unknown, steps, deepest, stuck, []);

            var (_, isReturn, op) = events[entry];
            if (!isReturn)
            {
                if (model.Step(state, ops[op], out var after))
                {
                    var bits = (ulong[])linearized.Clone();
                    bits[op >> 6] |= 1UL << (op & 63);
                    if (cache.Add(new Configuration(bits, after)))
                    {
                        calls.Push((entry, state));
                        state = after;
                        linearized = bits;
                        Lift(entry);
                        if (calls.Count > deepest.Count)
                        {
                            deepest = calls.Reverse().Select((c, i) => (ops[events[c.Entry].Op], (string?)null)).ToList();
                            // The state after each linearized step: replay the order from the start.
                            string? replay = null;
                            for (var i = 0; i < deepest.Count; i++)
                            {
                                model.Step(replay, deepest[i].Item1, out replay);
                                deepest[i] = (deepest[i].Item1, replay);
                            }
                            stuck = null;
                        }
                        entry = next[head];
                        continue;
                    }
                }
                entry = next[entry];
            }
            else
            {
                // This operation returned but could not be linearized before: undo the latest choice.
                if (calls.Count == deepest.Count && stuck is null) stuck = ops[op];
                if (calls.Count == 0) return NotLinearizable();
                var (undo, before) = calls.Pop();
                state = before;
                var undone = events[undo].Op;
                linearized = (ulong[])linearized.Clone();
                linearized[undone >> 6] &= ~(1UL << (undone & 63));
                Unlift(undo);
                entry = next[undo];
            }
        }

        return new(Linearizability.Linearizable, steps, [], null, []);

        LinearizabilityResult NotLinearizable()
        {
            // What was still open when the search got stuck: operations invoked before the stuck one returned and not
            // in the deepest order.
            var done = deepest.Select(d => d.Item1).ToHashSet();
            var pending = stuck is null ? [] : ops.Where(o => !done.Contains(o) && o.Invoke <= stuck.Return && o != stuck).ToList();
            return new(Linearizability.NotLinearizable, steps, deepest, stuck, pending);
        }

        void Lift(int call)
        {
            next[prev[call]] = next[call];
            prev[next[call]] = prev[call];
            var ret = returnOf[events[call].Op];
            next[prev[ret]] = next[ret];
            if (next[ret] != -1) prev[next[ret]] = prev[ret];
        }

        void Unlift(int call)
        {
            var ret = returnOf[events[call].Op];
            next[prev[ret]] = ret;
            if (next[ret] != -1) prev[next[ret]] = ret;
            next[prev[call]] = call;
            prev[next[call]] = call;
        }
    }

    /// <summary>A memoized configuration: which operations are linearized, and the state they leave.</summary>
    private readonly struct Configuration(ulong[] linearized, string? state) : IEquatable<Configuration>
    {
        private readonly ulong[] _linearized = linearized;
        private readonly string? _state = state;
        private readonly int _hash = HashOf(linearized, state);

        public bool Equals(Configuration other) =>
            _hash == other._hash && _state == other._state && _linearized.AsSpan().SequenceEqual(other._linearized);

        public override bool Equals(object? obj) => obj is Configuration other && Equals(other);

        public override int GetHashCode() => _hash;

        private static int HashOf(ulong[] bits, string? state)
        {
            var hash = new HashCode();
            foreach (var word in bits) hash.Add(word);
            hash.Add(state);
            return hash.ToHashCode();
        }
    }
}
