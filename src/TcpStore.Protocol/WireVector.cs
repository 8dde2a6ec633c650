using System.Buffers.Binary;

namespace TcpStore.Protocol;

/// <summary>The one byte-string layout of the wire (docs/PROTOCOL.md §1.3): a u64 length, then the bytes.</summary>
internal static class WireVector
{
    /// <summary>Writes <paramref name="value"/> at the start of <paramref name="destination"/>; returns the bytes written.</summary>
    public static int Write(byte[] value, Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(destination, (ulong)value.Length);
        value.CopyTo(destination[sizeof(ulong)..]);
        return sizeof(ulong) + value.Length;
    }

    /// <summary>Writes <paramref name="values"/> back to back; returns the bytes written.</summary>
    public static int WriteAll(IReadOnlyList<byte[]> values, Span<byte> destination)
    {
        var written = 0;
        for (var i = 0; i < values.Count; i++)
            written += Write(values[i], destination[written..]);
        return written;
    }
}
