namespace TcpStore.Akka.Jepsen.History;

/// <summary>Which model a key's sub-history is checked against.</summary>
public enum KeyModel
{
    /// <summary>A register with COMPARE_SET: SET, GET, CHECK, WAIT, COMPARE_SET, DELETE_KEY, APPEND.</summary>
    Register,

    /// <summary>A counter: ADD, GET, CHECK, WAIT, BARRIER.</summary>
    Counter,

    /// <summary>A FIFO queue: QUEUE_PUSH, QUEUE_POP, QUEUE_LEN.</summary>
    Queue,
}

/// <summary>
/// The workload's key names, which say what each key is for; the checker reads the model (and whether a key is
/// written once) from the name alone, so a history file can be checked without the run that made it.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item><c>r/S.G</c> registers, <c>c/S.G</c> counters, <c>q/S.G</c> queues: slot S of a small key space, generation G
/// (a slot moves to a fresh generation after a bounded number of operations, so each key's history stays small
/// enough to search).</item>
/// <item><c>v/G/rank/I</c> and <c>v/G/arrived</c>: one rendezvous (rank I's address, set once, and the arrivals
/// counter), pipelined as PyTorch's ranks do.</item>
/// <item><c>b/G</c>: one BARRIER's count.</item>
/// <item><c>p/C/N</c>: the N-th write-once key of a pipelined burst on connection C; <c>m/I/J</c>: key J of the
/// I-th MULTI_SET.</item>
/// </list>
/// </remarks>
public static class KeySpace
{
    public static string Register(int slot, int generation) => $"r/{slot}.{generation}";

    public static string Counter(int slot, int generation) => $"c/{slot}.{generation}";

    public static string Queue(int slot, int generation) => $"q/{slot}.{generation}";

    public static string RendezvousRank(int generation, int rank) => $"v/{generation}/rank/{rank}";

    public static string RendezvousArrived(int generation) => $"v/{generation}/arrived";

    public static string Barrier(int generation) => $"b/{generation}";

    public static string Burst(long connection, int index) => $"p/{connection}/{index}";

    public static string MultiSetGroup(long group, int index) => $"m/{group}/{index}";

    public static KeyModel ModelOf(string key) =>
        key.StartsWith("q/", StringComparison.Ordinal) ? KeyModel.Queue
        : key.StartsWith("c/", StringComparison.Ordinal) || key.StartsWith("b/", StringComparison.Ordinal) ||
          key.EndsWith("/arrived", StringComparison.Ordinal) ? KeyModel.Counter
        : KeyModel.Register;

    /// <summary>Keys set once and never changed or deleted: whether a write survived shows in the final state.</summary>
    public static bool IsWriteOnce(string key) =>
        key.StartsWith("p/", StringComparison.Ordinal) || key.StartsWith("m/", StringComparison.Ordinal) ||
        (key.StartsWith("v/", StringComparison.Ordinal) && key.Contains("/rank/", StringComparison.Ordinal));

    /// <summary>The rendezvous generation of a <c>v/G/…</c> key, or null.</summary>
    public static int? RendezvousOf(string key)
    {
        if (!key.StartsWith("v/", StringComparison.Ordinal)) return null;
        var end = key.IndexOf('/', 2);
        return end > 2 && int.TryParse(key.AsSpan(2, end - 2), out var generation) ? generation : null;
    }
}
