using System.Text.Json.Serialization;

namespace TcpStore.Akka.Jepsen.History;

/// <summary>The store query an operation is (docs/PROTOCOL.md §2.1), as the checker sees it.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<OpFunction>))]
public enum OpFunction
{
    Set,
    Get,
    CompareSet,
    Add,
    Check,
    Wait,
    Delete,
    Append,
    MultiGet,
    MultiSet,
    QueuePush,
    QueuePop,
    QueueLen,
    Barrier,
}

/// <summary>How an operation ended, as in Jepsen.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<OpOutcome>))]
public enum OpOutcome
{
    /// <summary>Answered (or, for a query without a reply, followed by a reply on its own connection).</summary>
    Ok,

    /// <summary>
    /// Answered as not done: a WAIT canceled by CANCEL_WAIT (it changed nothing), or a BARRIER whose wait was canceled
    /// (its arrival is counted all the same, docs/PROTOCOL.md §2.20).
    /// </summary>
    Fail,

    /// <summary>
    /// The connection broke or timed out after the request may have been sent: it may take effect at any time after
    /// its invocation, or never (Jepsen's <c>:info</c>).
    /// </summary>
    Unknown,
}

/// <summary>
/// One client operation with its invocation and completion on the run's monotonic clock (nanoseconds since the run
/// started). Arguments and results are ASCII text: the workload writes unique printable values, and a missing key
/// reads as the empty string (the workload never stores an empty value).
/// </summary>
public sealed class Operation
{
    /// <summary>The completion of an operation whose outcome is unknown: it may take effect until the end of time.</summary>
    public const long Never = long.MaxValue;

    /// <summary>Unique within the history, in invocation order.</summary>
    public long Id { get; init; }

    /// <summary>The workload client that issued it (negative: the harness's final read).</summary>
    public int Client { get; init; }

    /// <summary>The TCP connection it was sent on, unique within the run.</summary>
    public long Connection { get; init; }

    /// <summary>Its position among the requests sent on <see cref="Connection"/> (pipelined requests of one write included).</summary>
    public int Sequence { get; init; }

    /// <summary>The node the connection was made to.</summary>
    public string Node { get; init; } = "";

    public OpFunction Function { get; init; }

    /// <summary>The key, or the keys of MULTI_GET, MULTI_SET and WAIT.</summary>
    public string[] Keys { get; init; } = [];

    /// <summary>SET, APPEND, QUEUE_PUSH: the value; MULTI_SET: one per key; COMPARE_SET: expected, desired.</summary>
    public string[] Values { get; init; } = [];

    /// <summary>ADD: the delta; BARRIER: the world size.</summary>
    public long Number { get; init; }

    public long Invoke { get; init; }

    /// <summary>When the reply (or the reply that covers a query without one) arrived; <see cref="Never"/> if unknown.</summary>
    public long Complete { get; set; } = Never;

    public OpOutcome Outcome { get; set; } = OpOutcome.Unknown;

    /// <summary>GET, COMPARE_SET: the value replied; MULTI_GET: one per key; QUEUE_POP: the item (when there was one).</summary>
    public string[]? Output { get; set; }

    /// <summary>ADD: the new value; DELETE_KEY: 1 or 0; QUEUE_LEN: the length; QUEUE_POP: the length before; CHECK: 1 ready, 0 not.</summary>
    public long? OutputNumber { get; set; }

    /// <summary>Part of the harness's final read of the whole state, after every fault healed.</summary>
    public bool Final { get; init; }

    /// <summary>Whether it may change the store (a read with an unknown outcome constrains nothing and is dropped).</summary>
    [JsonIgnore]
    public bool IsWrite => Function is OpFunction.Set or OpFunction.CompareSet or OpFunction.Add or OpFunction.Delete
        or OpFunction.Append or OpFunction.MultiSet or OpFunction.QueuePush or OpFunction.QueuePop or OpFunction.Barrier;

    /// <summary>Marks it answered at <paramref name="at"/>.</summary>
    public void Succeed(long at)
    {
        Outcome = OpOutcome.Ok;
        Complete = at;
    }

    public override string ToString()
    {
        var args = Function switch
        {
            OpFunction.CompareSet => $"{Keys[0]} expect={Show(Values[0])} desire={Show(Values[1])}",
            OpFunction.Add => $"{Keys[0]} {Number:+0;-0}",
            OpFunction.Barrier => $"{Keys[0]} world={Number}",
            OpFunction.MultiSet => string.Join(' ', Keys.Zip(Values, (k, v) => $"{k}={Show(v)}")),
            OpFunction.Set or OpFunction.Append or OpFunction.QueuePush => $"{Keys[0]} {Show(Values[0])}",
            _ => string.Join(' ', Keys),
        };
        var result = Outcome switch
        {
            OpOutcome.Unknown => "UNKNOWN",
            OpOutcome.Fail => "fail",
            _ => Function switch
            {
                OpFunction.Get or OpFunction.CompareSet => "-> " + Show(Output?[0] ?? ""),
                OpFunction.MultiGet => "-> [" + string.Join(", ", (Output ?? []).Select(Show)) + "]",
                OpFunction.QueuePop => $"-> len {OutputNumber} item {Show(Output?[0] ?? "")}",
                OpFunction.Check => OutputNumber == 1 ? "-> ready" : "-> not ready",
                OpFunction.Wait or OpFunction.Barrier => "-> STOP_WAITING",
                OpFunction.Add or OpFunction.Delete or OpFunction.QueueLen => $"-> {OutputNumber}",
                _ => "ok",
            },
        };
        var completed = Complete == Never ? "?" : Seconds(Complete);
        return $"#{Id} c{Client}/conn{Connection}.{Sequence}@{Node} [{Seconds(Invoke)}..{completed}] " +
               $"{WireName(Function)} {args} {result}";
    }

    /// <summary>The query's name as docs/PROTOCOL.md §2.1 spells it.</summary>
    public static string WireName(OpFunction function) => function switch
    {
        OpFunction.CompareSet => "COMPARE_SET",
        OpFunction.Delete => "DELETE_KEY",
        OpFunction.MultiGet => "MULTI_GET",
        OpFunction.MultiSet => "MULTI_SET",
        OpFunction.QueuePush => "QUEUE_PUSH",
        OpFunction.QueuePop => "QUEUE_POP",
        OpFunction.QueueLen => "QUEUE_LEN",
        _ => function.ToString().ToUpperInvariant(),
    };

    /// <summary>A value for a report: absent for the empty string, shortened when long (APPEND chains grow).</summary>
    public static string Show(string value) =>
        value.Length == 0 ? "(absent)" : value.Length <= 40 ? $"'{value}'" : $"'{value[..12]}…{value[^24..]}'({value.Length})";

    /// <summary>Nanoseconds on the run's clock as seconds, for reports.</summary>
    public static string Seconds(long nanoseconds) => (nanoseconds / 1e9).ToString("0.000s", System.Globalization.CultureInfo.InvariantCulture);
}
