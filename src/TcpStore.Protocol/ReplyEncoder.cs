using System.Buffers;
using System.Buffers.Binary;

namespace TcpStore.Protocol;

/// <summary>
/// Turns <see cref="Reply"/> values into wire bytes (docs/PROTOCOL.md §1.5): vectors are u64 length + bytes, integers
/// are little-endian i64, CHECK/WAIT/CANCEL_WAIT answers one byte, PING echoes the u32 nonce.
/// </summary>
public static class ReplyEncoder
{
    private const byte CheckReady = 0;
    private const byte CheckNotReady = 1;
    private const byte StopWaitingByte = 0;
    private const byte WaitCanceledByte = 1;

    /// <summary>The exact number of bytes <see cref="Encode(Reply, Span{byte})"/> writes for <paramref name="reply"/>.</summary>
    /// <exception cref="InvalidOperationException">The reply is <see cref="Reply.WaitPending"/> or malformed.</exception>
    /// <exception cref="OverflowException">The encoding would exceed 2 GiB.</exception>
    public static int GetEncodedLength(Reply reply)
    {
        ArgumentNullException.ThrowIfNull(reply);
        return reply switch
        {
            Reply.Bytes bytes => VectorLength(bytes.Value),
            Reply.Integer => sizeof(long),
            Reply.CheckResult or Reply.StopWaiting or Reply.WaitCanceled => 1,
            Reply.Pong => sizeof(uint),
            Reply.MultiBytes multi => VectorsLength(multi.Values),
            Reply.QueueItem item => sizeof(long) + (item.LengthBeforePop > 0 ? VectorLength(QueueItemValue(item)) : 0),
            Reply.KeyList list => checked(sizeof(long) + VectorsLength(list.Keys)),
            Reply.WaitPending => throw NotAWireReply(),
            _ => throw new InvalidOperationException($"Unknown reply {reply.GetType().Name}."),
        };
    }

    /// <summary>The total encoded length of a batch of replies.</summary>
    public static int GetEncodedLength(IReadOnlyList<Reply> replies)
    {
        ArgumentNullException.ThrowIfNull(replies);
        var total = 0;
        for (var i = 0; i < replies.Count; i++)
            total = checked(total + GetEncodedLength(replies[i]));
        return total;
    }

    /// <summary>Writes <paramref name="reply"/> at the start of <paramref name="destination"/>; returns the bytes written.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than <see cref="GetEncodedLength(Reply)"/>.</exception>
    public static int Encode(Reply reply, Span<byte> destination)
    {
        var length = GetEncodedLength(reply);
        if (destination.Length < length)
            throw new ArgumentException($"Need {length} bytes, the destination has {destination.Length}.", nameof(destination));

        switch (reply)
        {
            case Reply.Bytes bytes:
                WireVector.Write(bytes.Value, destination);
                break;
            case Reply.Integer integer:
                BinaryPrimitives.WriteInt64LittleEndian(destination, integer.Value);
                break;
            case Reply.CheckResult check:
                destination[0] = check.Ready ? CheckReady : CheckNotReady;
                break;
            case Reply.StopWaiting:
                destination[0] = StopWaitingByte;
                break;
            case Reply.WaitCanceled:
                destination[0] = WaitCanceledByte;
                break;
            case Reply.Pong pong:
                BinaryPrimitives.WriteUInt32LittleEndian(destination, pong.Nonce);
                break;
            case Reply.MultiBytes multi:
                WireVector.WriteAll(multi.Values, destination);
                break;
            case Reply.QueueItem item:
                BinaryPrimitives.WriteInt64LittleEndian(destination, item.LengthBeforePop);
                if (item.LengthBeforePop > 0)
                    WireVector.Write(QueueItemValue(item), destination[sizeof(long)..]);
                break;
            case Reply.KeyList list:
                BinaryPrimitives.WriteInt64LittleEndian(destination, list.Keys.Count);
                WireVector.WriteAll(list.Keys, destination[sizeof(long)..]);
                break;
        }

        return length;
    }

    /// <summary>Writes a batch of replies back to back; returns the bytes written.</summary>
    public static int Encode(IReadOnlyList<Reply> replies, Span<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(replies);
        var written = 0;
        for (var i = 0; i < replies.Count; i++)
            written += Encode(replies[i], destination[written..]);
        return written;
    }

    /// <summary>Encodes <paramref name="reply"/> into a new array of exactly its length.</summary>
    public static byte[] Encode(Reply reply)
    {
        var bytes = new byte[GetEncodedLength(reply)];
        Encode(reply, bytes);
        return bytes;
    }

    /// <summary>Encodes a batch of replies into a new array of exactly their length (empty when none has bytes).</summary>
    public static byte[] Encode(IReadOnlyList<Reply> replies)
    {
        var total = GetEncodedLength(replies);
        if (total == 0)
            return [];
        var bytes = new byte[total];
        Encode(replies, bytes);
        return bytes;
    }

    /// <summary>
    /// Writes a batch of replies into <paramref name="writer"/> as one contiguous span (the lengths are computed
    /// first, so the writer is asked once); returns the bytes written.
    /// </summary>
    public static int Encode(IReadOnlyList<Reply> replies, IBufferWriter<byte> writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        var total = GetEncodedLength(replies);
        if (total == 0)
            return 0;
        Encode(replies, writer.GetSpan(total));
        writer.Advance(total);
        return total;
    }

    private static byte[] QueueItemValue(Reply.QueueItem item) =>
        item.Value ?? throw new InvalidOperationException(
            $"A QUEUE_POP reply with length {item.LengthBeforePop} must carry the popped item.");

    private static InvalidOperationException NotAWireReply() =>
        new("WaitPending only holds a WAIT's place in reply order; it has no wire encoding.");

    private static int VectorLength(byte[] value) => checked(sizeof(ulong) + value.Length);

    private static int VectorsLength(IReadOnlyList<byte[]> values)
    {
        var total = 0;
        for (var i = 0; i < values.Count; i++)
            total = checked(total + VectorLength(values[i]));
        return total;
    }

}
