using System.Buffers;
using System.Buffers.Binary;
using Akka.IO;
using TcpStore.Protocol;

namespace TcpStore.Akka.Connections;

/// <summary>
/// A batch's replies as the chunks a connection writes: all of them in one array (the usual case), or, when a reply
/// carries a value of at least <see cref="LargeValueBytes"/>, that value as a chunk of its own that wraps the store's
/// array, between chunks of the encoded bytes around it. A large GET is then written from the value itself, as
/// PyTorch's libuv server does, instead of being copied into a reply as large as the value first.
/// </summary>
internal static class ReplyChunks
{
    /// <summary>
    /// The smallest value sent from its own array. Below it a copy is cheaper than a write of its own; at 8 MiB (the
    /// largest value) the copies held up a loop's other connections (docs/PERFORMANCE.md, "Never block a loop").
    /// </summary>
    public const int LargeValueBytes = 64 * 1024;

    /// <summary>Whether any reply carries a value sent on its own.</summary>
    public static bool HasLargeValue(IReadOnlyList<Reply> replies)
    {
        for (var i = 0; i < replies.Count; i++)
        {
            switch (replies[i])
            {
                case Reply.Bytes { Value.Length: >= LargeValueBytes }:
                    return true;
                case Reply.MultiBytes multi:
                    for (var v = 0; v < multi.Values.Count; v++)
                        if (multi.Values[v].Length >= LargeValueBytes) return true;
                    break;
            }
        }

        return false;
    }

    /// <summary>Appends the chunks of <paramref name="replies"/> to <paramref name="chunks"/>, in wire order.</summary>
    /// <remarks>The stored values are never changed in place (a SET or APPEND stores a new array), so a chunk may
    /// wrap one for as long as it takes to send it.</remarks>
    public static void Encode(IReadOnlyList<Reply> replies, List<ByteString> chunks)
    {
        var encoded = new ArrayBufferWriter<byte>();
        for (var i = 0; i < replies.Count; i++)
        {
            switch (replies[i])
            {
                case Reply.Bytes { Value.Length: >= LargeValueBytes } bytes:
                    Value(bytes.Value, encoded, chunks);
                    break;
                case Reply.MultiBytes multi when HasLargeValue([multi]):
                    foreach (var value in multi.Values) Value(value, encoded, chunks);
                    break;
                default:
                    var reply = replies[i];
                    var length = ReplyEncoder.GetEncodedLength(reply);
                    ReplyEncoder.Encode(reply, encoded.GetSpan(length));
                    encoded.Advance(length);
                    break;
            }
        }

        Flush(encoded, chunks);
    }

    /// <summary>One vector: its length prefix in the encoded bytes, a large value as a chunk of its own.</summary>
    private static void Value(byte[] value, ArrayBufferWriter<byte> encoded, List<ByteString> chunks)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(encoded.GetSpan(sizeof(ulong)), (ulong)value.Length);
        encoded.Advance(sizeof(ulong));
        if (value.Length < LargeValueBytes)
        {
            value.CopyTo(encoded.GetSpan(value.Length));
            encoded.Advance(value.Length);
            return;
        }

        Flush(encoded, chunks);
        chunks.Add(ByteString.FromBytes(value));
    }

    private static void Flush(ArrayBufferWriter<byte> encoded, List<ByteString> chunks)
    {
        if (encoded.WrittenCount == 0) return;
        chunks.Add(ByteString.FromBytes(encoded.WrittenSpan.ToArray()));
        encoded.ResetWrittenCount();
    }
}
