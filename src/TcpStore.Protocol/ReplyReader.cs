using System.Buffers.Binary;

namespace TcpStore.Protocol;

/// <summary>
/// The client side of the reply framing: reads the reply a given query produces (docs/PROTOCOL.md §1.5). Replies carry
/// no type of their own, so the caller says which query it is waiting for. Span-based: nothing is consumed until a
/// whole reply is present, so the caller can retry with more bytes.
/// </summary>
public static class ReplyReader
{
    /// <summary>Whether <paramref name="type"/> is answered at all (SET, APPEND, MULTI_SET, QUEUE_PUSH, VALIDATE are not).</summary>
    public static bool HasReply(QueryType type) =>
        type is not (QueryType.Validate or QueryType.Set or QueryType.Append or QueryType.MultiSet or QueryType.QueuePush);

    /// <summary>
    /// Tries to read the reply to <paramref name="query"/> from the start of <paramref name="data"/>.
    /// Returns false (and consumes nothing) when the reply is not complete yet.
    /// </summary>
    /// <remarks>
    /// After CANCEL_WAIT a client may legitimately see a late STOP_WAITING (<c>00</c>) before WAIT_CANCELED
    /// (<c>01</c>); reading for <see cref="QueryType.CancelWait"/> therefore returns <see cref="Reply.StopWaiting"/>
    /// for <c>00</c>, and the caller reads again.
    /// </remarks>
    /// <exception cref="ArgumentException">The query has no reply.</exception>
    /// <exception cref="InvalidDataException">The bytes cannot be a reply to this query.</exception>
    public static bool TryRead(Query query, ReadOnlySpan<byte> data, out Reply? reply, out int consumed)
    {
        ArgumentNullException.ThrowIfNull(query);
        var keyCount = query is Query.MultiGet multiGet ? multiGet.Keys.Count : 0;
        return TryRead(query.Type, keyCount, data, out reply, out consumed);
    }

    /// <summary>
    /// Like <see cref="TryRead(Query, ReadOnlySpan{byte}, out Reply?, out int)"/> given only the query type and, for
    /// MULTI_GET, the number of keys requested.
    /// </summary>
    public static bool TryRead(QueryType type, int multiGetKeyCount, ReadOnlySpan<byte> data, out Reply? reply, out int consumed)
    {
        reply = null;
        consumed = 0;
        var position = 0;
        switch (type)
        {
            case QueryType.CompareSet:
            case QueryType.Get:
                if (!TryReadVector(data, ref position, out var value))
                    return false;
                reply = new Reply.Bytes(value);
                break;

            case QueryType.Add:
            case QueryType.GetNumKeys:
            case QueryType.DeleteKey:
            case QueryType.QueueLen:
                if (!TryReadInt64(data, ref position, out var integer))
                    return false;
                reply = new Reply.Integer(integer);
                break;

            case QueryType.Check:
                if (data.IsEmpty)
                    return false;
                reply = data[0] switch
                {
                    0 => Reply.CheckResult.ReadyReply,
                    1 => Reply.CheckResult.NotReadyReply,
                    var other => throw new InvalidDataException($"CHECK reply must be 0 or 1, got {other}."),
                };
                position = 1;
                break;

            case QueryType.Wait:
            case QueryType.Barrier:
            case QueryType.CancelWait:
                if (data.IsEmpty)
                    return false;
                reply = (data[0], type) switch
                {
                    (0, _) => Reply.StopWaiting.Instance,
                    (1, QueryType.CancelWait) => Reply.WaitCanceled.Instance,
                    var (other, _) => throw new InvalidDataException($"{type} reply byte {other} is not expected."),
                };
                position = 1;
                break;

            case QueryType.Ping:
                if (data.Length < sizeof(uint))
                    return false;
                reply = new Reply.Pong(BinaryPrimitives.ReadUInt32LittleEndian(data));
                position = sizeof(uint);
                break;

            case QueryType.MultiGet:
            {
                ArgumentOutOfRangeException.ThrowIfNegative(multiGetKeyCount);
                var values = new byte[multiGetKeyCount][];
                for (var i = 0; i < values.Length; i++)
                {
                    if (!TryReadVector(data, ref position, out values[i]))
                        return false;
                }

                reply = new Reply.MultiBytes(values);
                break;
            }

            case QueryType.QueuePop:
            {
                if (!TryReadInt64(data, ref position, out var lengthBeforePop))
                    return false;
                byte[]? item = null;
                if (lengthBeforePop > 0 && !TryReadVector(data, ref position, out item))
                    return false;
                reply = new Reply.QueueItem(lengthBeforePop, item);
                break;
            }

            case QueryType.ListKeys:
            {
                if (!TryReadInt64(data, ref position, out var count))
                    return false;
                if (count < 0 || count > data.Length - position)
                {
                    if (count < 0)
                        throw new InvalidDataException($"LIST_KEYS count {count} is negative.");
                    return false; // Every key needs at least its 8-byte prefix; they are not all here yet.
                }

                var keys = new byte[count][];
                for (var i = 0; i < keys.Length; i++)
                {
                    if (!TryReadVector(data, ref position, out keys[i]))
                        return false;
                }

                reply = new Reply.KeyList(keys);
                break;
            }

            default:
                throw new ArgumentException($"{type} has no reply.", nameof(type));
        }

        consumed = position;
        return true;
    }

    private static bool TryReadInt64(ReadOnlySpan<byte> data, ref int position, out long value)
    {
        value = 0;
        if (data.Length - position < sizeof(long))
            return false;
        value = BinaryPrimitives.ReadInt64LittleEndian(data[position..]);
        position += sizeof(long);
        return true;
    }

    private static bool TryReadVector(ReadOnlySpan<byte> data, ref int position, out byte[] value)
    {
        value = [];
        if (data.Length - position < sizeof(ulong))
            return false;
        var length = BinaryPrimitives.ReadUInt64LittleEndian(data[position..]);
        if (length > (ulong)Array.MaxLength)
            throw new InvalidDataException($"Reply vector length {length} cannot be a real reply.");
        if (length > (ulong)(data.Length - position - sizeof(ulong)))
            return false;
        value = data.Slice(position + sizeof(ulong), (int)length).ToArray();
        position += sizeof(ulong) + (int)length;
        return true;
    }
}
