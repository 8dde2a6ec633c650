using System.Globalization;
using TcpStore.Akka.Jepsen.History;

namespace TcpStore.Akka.Jepsen.Checker;

/// <summary>What one operation does to one key, as a model step.</summary>
public enum ModelOpKind
{
    /// <summary>SET (also one key of a MULTI_SET).</summary>
    Set,
    Append,
    /// <summary>GET (also one key of a MULTI_GET): the value, or the empty string for a missing key.</summary>
    Get,
    /// <summary>CHECK of one key: 1 if it exists.</summary>
    Check,
    /// <summary>A WAIT that returned STOP_WAITING: the key existed at some point before the reply.</summary>
    AwaitExists,
    CompareSet,
    Delete,
    Add,
    /// <summary>A BARRIER's arrival: +1 to the count, whatever happens to its wait.</summary>
    BarrierArrive,
    /// <summary>A BARRIER that returned STOP_WAITING: the count had reached the world size before the reply.</summary>
    BarrierReleased,
    Push,
    Pop,
    Len,
}

/// <summary>One step of one key's history: an operation (or the part of a multi-key one) that touches the key.</summary>
public sealed class ModelOp
{
    public ModelOpKind Kind { get; init; }

    public long Invoke { get; init; }

    /// <summary><see cref="Operation.Never"/> when the outcome is unknown.</summary>
    public long Return { get; init; }

    /// <summary>SET, APPEND, QUEUE_PUSH: the value; COMPARE_SET: desired.</summary>
    public string Value { get; init; } = "";

    /// <summary>COMPARE_SET: expected.</summary>
    public string Expected { get; init; } = "";

    /// <summary>ADD: the delta; BarrierReleased: the world size.</summary>
    public long Number { get; init; }

    /// <summary>False when the outcome is unknown: any result is accepted, only the effect counts.</summary>
    public bool HasOutput { get; init; }

    /// <summary>GET, COMPARE_SET: the reply; QUEUE_POP: the item.</summary>
    public string OutValue { get; init; } = "";

    /// <summary>ADD: the new value; DELETE_KEY: 1/0; CHECK: 1/0; QUEUE_LEN: the length; QUEUE_POP: the length before.</summary>
    public long OutNumber { get; init; }

    /// <summary>The recorded operation it came from (null in hand-made model tests).</summary>
    public Operation? Source { get; init; }

    public override string ToString() => Source?.ToString() ?? $"{Kind} {Value} [{Invoke}..{Return}]";
}

/// <summary>
/// A sequential specification over one key: the state is a string (or null for a missing key) so that the search can
/// memoize on it; <see cref="Step"/> says whether <paramref name="op"/> may return what it returned from that state.
/// </summary>
public interface IModel
{
    string Name { get; }

    bool Step(string? state, ModelOp op, out string? next);

    string Describe(string? state);
}

/// <summary>
/// A register with COMPARE_SET (docs/PROTOCOL.md §2.3–§2.11). The workload stores no empty value, so an empty GET means
/// the key is missing. COMPARE_SET follows PyTorch's four cases (§2.4).
/// </summary>
public sealed class RegisterModel : IModel
{
    public static readonly RegisterModel Instance = new();

    public string Name => "register";

    public bool Step(string? state, ModelOp op, out string? next)
    {
        next = state;
        switch (op.Kind)
        {
            case ModelOpKind.Set:
                next = op.Value;
                return true;
            case ModelOpKind.Append:
                next = (state ?? "") + op.Value;
                return true;
            case ModelOpKind.Get:
                return !op.HasOutput || op.OutValue == (state ?? "");
            case ModelOpKind.Check:
                return !op.HasOutput || op.OutNumber == (state is null ? 0 : 1);
            case ModelOpKind.AwaitExists:
                return state is not null;
            case ModelOpKind.Delete:
                next = null;
                return !op.HasOutput || op.OutNumber == (state is null ? 0 : 1);
            case ModelOpKind.CompareSet:
            {
                string reply;
                if (state is null)
                {
                    // Missing: an empty expected creates it; any other expected changes nothing and is echoed.
                    if (op.Expected.Length == 0) (next, reply) = (op.Value, op.Value);
                    else reply = op.Expected;
                }
                else if (state == op.Expected) (next, reply) = (op.Value, op.Value);
                else reply = state;
                return !op.HasOutput || op.OutValue == reply;
            }
            default:
                throw new InvalidOperationException($"{op.Kind} is not a register operation: {op}");
        }
    }

    public string Describe(string? state) => state is null ? "(absent)" : Operation.Show(state);
}

/// <summary>
/// A counter: ADD (a missing key counts as 0, §2.6), GET of its decimal text, and BARRIER (§2.20): an arrival adds 1;
/// a released arrival requires the count to have reached its world size.
/// </summary>
public sealed class CounterModel : IModel
{
    public static readonly CounterModel Instance = new();

    public string Name => "counter";

    public bool Step(string? state, ModelOp op, out string? next)
    {
        next = state;
        var count = state is null ? 0 : long.Parse(state, CultureInfo.InvariantCulture);
        switch (op.Kind)
        {
            case ModelOpKind.Add:
                next = (count + op.Number).ToString(CultureInfo.InvariantCulture);
                return !op.HasOutput || op.OutNumber == count + op.Number;
            case ModelOpKind.BarrierArrive:
                next = (count + 1).ToString(CultureInfo.InvariantCulture);
                return true;
            case ModelOpKind.BarrierReleased:
                return count >= op.Number;
            case ModelOpKind.Get:
                return !op.HasOutput || op.OutValue == (state ?? "");
            case ModelOpKind.Check:
                return !op.HasOutput || op.OutNumber == (state is null ? 0 : 1);
            case ModelOpKind.AwaitExists:
                return state is not null;
            default:
                throw new InvalidOperationException($"{op.Kind} is not a counter operation: {op}");
        }
    }

    public string Describe(string? state) => state ?? "(absent)";
}

/// <summary>A FIFO queue (§2.16–§2.18): the state is its items, oldest first, one per line (values have no newline).</summary>
public sealed class QueueModel : IModel
{
    public static readonly QueueModel Instance = new();

    public string Name => "queue";

    public bool Step(string? state, ModelOp op, out string? next)
    {
        next = state;
        var items = string.IsNullOrEmpty(state) ? [] : state.Split('\n');
        switch (op.Kind)
        {
            case ModelOpKind.Push:
                next = items.Length == 0 ? op.Value : state + "\n" + op.Value;
                return true;
            case ModelOpKind.Pop:
                if (items.Length > 0) next = items.Length == 1 ? null : string.Join('\n', items.Skip(1));
                return !op.HasOutput || (op.OutNumber == items.Length && (items.Length == 0 || op.OutValue == items[0]));
            case ModelOpKind.Len:
                return !op.HasOutput || op.OutNumber == items.Length;
            default:
                throw new InvalidOperationException($"{op.Kind} is not a queue operation: {op}");
        }
    }

    public string Describe(string? state) =>
        string.IsNullOrEmpty(state) ? "[]" : "[" + string.Join(", ", state.Split('\n').Select(Operation.Show)) + "]";
}
