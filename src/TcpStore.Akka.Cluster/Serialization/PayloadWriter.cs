using System.Buffers.Binary;
using System.Text;

namespace TcpStore.Akka.Cluster.Serialization;

/// <summary>
/// Writes a <see cref="StoreMessageSerializer"/> payload into an array whose size the caller computed beforehand with
/// the <c>SizeOf</c> helpers, so a message costs exactly one allocation of exactly its size. Fixed-width numbers are
/// little-endian; lengths and counts are unsigned LEB128 varints (one byte below 128, which keys usually are).
/// </summary>
internal ref struct PayloadWriter
{
    private readonly byte[] _buffer;
    private int _position;

    public PayloadWriter(int size)
    {
        _buffer = size == 0 ? [] : new byte[size];
        _position = 0;
    }

    public static int SizeOfLength(int value)
    {
        var size = 1;
        for (var v = (uint)value; v >= 0x80; v >>= 7)
            size++;
        return size;
    }

    public static int SizeOf(byte[] value) => SizeOfLength(value.Length) + value.Length;

    /// <summary>A nullable array is its length plus one (0 for null), then its bytes.</summary>
    public static int SizeOfNullable(byte[]? value) => value is null ? 1 : SizeOfLength(value.Length + 1) + value.Length;

    public static int SizeOf(string value)
    {
        var count = Encoding.UTF8.GetByteCount(value);
        return SizeOfLength(count) + count;
    }

    public static int SizeOf(IReadOnlyList<byte[]> values)
    {
        var size = SizeOfLength(values.Count);
        for (var i = 0; i < values.Count; i++)
            size += SizeOf(values[i]);
        return size;
    }

    public void Byte(byte value) => _buffer[_position++] = value;

    public void Bool(bool value) => Byte(value ? (byte)1 : (byte)0);

    public void Int32(int value)
    {
        BinaryPrimitives.WriteInt32LittleEndian(_buffer.AsSpan(_position), value);
        _position += sizeof(int);
    }

    public void UInt32(uint value)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(_position), value);
        _position += sizeof(uint);
    }

    public void Int64(long value)
    {
        BinaryPrimitives.WriteInt64LittleEndian(_buffer.AsSpan(_position), value);
        _position += sizeof(long);
    }

    public void Length(int value)
    {
        var v = (uint)value;
        for (; v >= 0x80; v >>= 7)
            _buffer[_position++] = (byte)(v | 0x80);
        _buffer[_position++] = (byte)v;
    }

    public void Bytes(byte[] value)
    {
        Length(value.Length);
        Raw(value);
    }

    public void NullableBytes(byte[]? value)
    {
        if (value is null)
        {
            Length(0);
            return;
        }
        Length(value.Length + 1);
        Raw(value);
    }

    public void String(string value)
    {
        Length(Encoding.UTF8.GetByteCount(value));
        _position += Encoding.UTF8.GetBytes(value, _buffer.AsSpan(_position));
    }

    public void Bytes(IReadOnlyList<byte[]> values)
    {
        Length(values.Count);
        for (var i = 0; i < values.Count; i++)
            Bytes(values[i]);
    }

    /// <summary>The payload; a size that does not match what was written is a bug in a <c>SizeOf</c>, not bad input.</summary>
    public readonly byte[] Complete() =>
        _position == _buffer.Length
            ? _buffer
            : throw new InvalidOperationException($"Payload size computed as {_buffer.Length} bytes but {_position} were written.");

    private void Raw(byte[] value)
    {
        value.CopyTo(_buffer, _position);
        _position += value.Length;
    }
}
