using System.Diagnostics;
using System.Text.Json;

namespace TcpStore.Akka.Jepsen.History;

/// <summary>
/// The run's history: every operation the workload invoked, in invocation order, on one monotonic clock. Thread-safe:
/// every client records into it. Operations are mutable until they complete; <see cref="Snapshot"/> copies the list.
/// </summary>
public sealed class HistoryRecorder
{
    private readonly object _gate = new();
    private readonly List<Operation> _operations = [];
    private readonly long _origin = Stopwatch.GetTimestamp();
    private long _nextConnection;

    /// <summary>Nanoseconds since the run started (monotonic).</summary>
    public long Now => (long)Stopwatch.GetElapsedTime(_origin).Ticks * 100;

    /// <summary>A fresh connection id.</summary>
    public long NewConnection() => Interlocked.Increment(ref _nextConnection);

    /// <summary>
    /// Records operations invoked together (one write), with consecutive ids: <paramref name="create"/> gets each
    /// one's id and the common invocation time.
    /// </summary>
    public IReadOnlyList<Operation> Invoke(int count, Func<long, long, int, Operation> create)
    {
        lock (_gate)
        {
            var at = Now;
            var created = new Operation[count];
            for (var i = 0; i < count; i++)
            {
                created[i] = create(_operations.Count, at, i);
                _operations.Add(created[i]);
            }
            return created;
        }
    }

    public int Count
    {
        get
        {
            lock (_gate) return _operations.Count;
        }
    }

    public IReadOnlyList<Operation> Snapshot()
    {
        lock (_gate) return _operations.ToList();
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = false };

    /// <summary>Writes <paramref name="operations"/> as JSON Lines (one operation per line).</summary>
    public static void Write(string path, IEnumerable<Operation> operations)
    {
        using var writer = new StreamWriter(path);
        foreach (var op in operations) writer.WriteLine(JsonSerializer.Serialize(op, JsonOptions));
    }

    /// <summary>Reads a file written by <see cref="Write"/>.</summary>
    public static List<Operation> Read(string path) =>
        File.ReadLines(path).Where(l => l.Length > 0)
            .Select(l => JsonSerializer.Deserialize<Operation>(l, JsonOptions) ?? throw new InvalidDataException(l)).ToList();
}
