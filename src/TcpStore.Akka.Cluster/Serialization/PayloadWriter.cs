using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace TcpStore.Akka.Cluster.Serialization;

/// <summary>
/// Writes a <see cref="StoreMessageSerializer"/> payload into a growing buffer. Fixed-width numbers are
/// little-endian; lengths and counts are unsigned LEB128 varints (one byte below 128, which keys usually are).
/// The wire codec writes straight into <see cref="Buffer"/>.
/// </summary>
internal sealed class PayloadWriter(int initialCapacity = 256)
{
    public ArrayBufferWriter<byte> Buffer { get; } = new(initialCapacity);

    public void Byte(byte value)
    {
        Buffer.GetSpan(1)[0] = value;
        Buffer.Advance(1);
    }

    public void Bool(bool value) => Byte(value ? (byte)1 : (byte)0);

    public void Int32(int value)
    {
        BinaryPrimitives.WriteInt32LittleEndian(Buffer.GetSpan(sizeof(int)), value);
        Buffer.Advance(sizeof(int));
    }

    public void Int64(long value)
    {
        BinaryPrimitives.WriteInt64LittleEndian(Buffer.GetSpan(sizeof(long)), value);
        Buffer.Advance(sizeof(long));
    }

    public void Length(int value)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(value);
        var span = Buffer.GetSpan(5);
        var written = 0;
        var v = (uint)value;
        for (; v >= 0x80; v >>= 7)
            span[written++] = (byte)(v | 0x80);
        span[written++] = (byte)v;
        Buffer.Advance(written);
    }

    public void Bytes(ReadOnlySpan<byte> value)
    {
        Length(value.Length);
        Buffer.Write(value);
    }

    /// <summary>A nullable array is its length plus one (0 for null), then its bytes.</summary>
    public void NullableBytes(byte[]? value)
    {
        if (value is null)
        {
            Length(0);
            return;
        }

        Length(checked(value.Length + 1));
        Buffer.Write(value);
    }

    public void String(string value)
    {
        var count = Encoding.UTF8.GetByteCount(value);
        Length(count);
        Encoding.UTF8.GetBytes(value, Buffer.GetSpan(count));
        Buffer.Advance(count);
    }

    public byte[] ToArray() => Buffer.WrittenSpan.ToArray();
}
