using TcpStore.Akka.Jepsen.History;

namespace TcpStore.Akka.Cluster.Tests.Jepsen;

/// <summary>
/// Hand-made histories for the checker's self-tests. Times are plain numbers; <c>end: null</c> makes an operation's
/// outcome unknown (its effect may happen at any time after <c>start</c>, or never). Each call is one operation on its
/// own connection unless a connection is given.
/// </summary>
internal sealed class TestHistory
{
    private readonly List<Operation> _operations = [];
    private long _nextConnection = 1000;

    public IReadOnlyList<Operation> Operations => _operations;

    public Operation Set(string key, string value, long start, long? end, long? connection = null, int sequence = 0) =>
        Record(OpFunction.Set, [key], [value], start, end, connection: connection, sequence: sequence);

    public Operation Append(string key, string value, long start, long? end) =>
        Record(OpFunction.Append, [key], [value], start, end);

    public Operation Get(string key, string result, long start, long end) =>
        Record(OpFunction.Get, [key], [], start, end, output: [result]);

    public Operation CompareSet(string key, string expected, string desired, string? result, long start, long? end) =>
        Record(OpFunction.CompareSet, [key], [expected, desired], start, end, output: result is null ? null : [result]);

    public Operation Delete(string key, bool? existed, long start, long? end) =>
        Record(OpFunction.Delete, [key], [], start, end, number: existed is null ? null : existed.Value ? 1 : 0);

    public Operation Check(string key, bool ready, long start, long end) =>
        Record(OpFunction.Check, [key], [], start, end, number: ready ? 1 : 0);

    public Operation Wait(string key, long start, long end) => Record(OpFunction.Wait, [key], [], start, end);

    public Operation Add(string key, long delta, long? result, long start, long? end) =>
        Record(OpFunction.Add, [key], [], start, end, delta: delta, number: result);

    public Operation Barrier(string key, long worldSize, long start, long? end, bool released = true)
    {
        var op = Record(OpFunction.Barrier, [key], [], start, end, delta: worldSize);
        if (!released && end is not null) op.Outcome = OpOutcome.Fail;
        return op;
    }

    public Operation MultiSet(string[] keys, string[] values, long start, long? end, long? connection = null, int sequence = 0) =>
        Record(OpFunction.MultiSet, keys, values, start, end, connection: connection, sequence: sequence);

    public Operation MultiGet(string[] keys, string[] results, long start, long end) =>
        Record(OpFunction.MultiGet, keys, [], start, end, output: results);

    public Operation Push(string key, string value, long start, long? end) =>
        Record(OpFunction.QueuePush, [key], [value], start, end);

    public Operation Pop(string key, long lengthBefore, string? item, long start, long? end) =>
        Record(OpFunction.QueuePop, [key], [], start, end, output: item is null ? null : [item], number: end is null ? null : lengthBefore);

    public Operation Length(string key, long length, long start, long end) =>
        Record(OpFunction.QueueLen, [key], [], start, end, number: length);

    /// <summary>The harness's final read: one atomic MULTI_GET of <paramref name="state"/>'s keys ("" = missing).</summary>
    public Operation Final(long at, params (string Key, string Value)[] state)
    {
        var op = new Operation
        {
            Id = _operations.Count, Client = -1, Connection = 1, Node = "n0", Function = OpFunction.MultiGet,
            Keys = state.Select(s => s.Key).ToArray(), Invoke = at, Final = true,
        };
        op.Succeed(at + 1);
        op.Output = state.Select(s => s.Value).ToArray();
        _operations.Add(op);
        return op;
    }

    private Operation Record(OpFunction function, string[] keys, string[] values, long start, long? end,
        long delta = 0, string[]? output = null, long? number = null, long? connection = null, int sequence = 0)
    {
        var op = new Operation
        {
            Id = _operations.Count, Client = _operations.Count, Connection = connection ?? _nextConnection++,
            Sequence = sequence, Node = "n0", Function = function, Keys = keys, Values = values, Number = delta,
            Invoke = start,
        };
        if (end is { } completed)
        {
            op.Succeed(completed);
            op.Output = output;
            op.OutputNumber = number;
        }
        _operations.Add(op);
        return op;
    }
}
