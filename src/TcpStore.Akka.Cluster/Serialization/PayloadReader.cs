using System.Buffers.Binary;
using System.Runtime.Serialization;
using System.Text;

namespace TcpStore.Akka.Cluster.Serialization;

/// <summary>
/// Reads what <see cref="PayloadWriter"/> wrote. Every read is bounds-checked and every length and count is checked
/// against the bytes that remain before anything is allocated, so a truncated or hostile payload ends in a
/// <see cref="SerializationException"/>, never in an out-of-range access or a huge allocation.
/// </summary>
internal ref struct PayloadReader(ReadOnlySpan<byte> payload, string manifest)
{
    private readonly ReadOnlySpan<byte> _payload = payload;
    private int _position;

    private readonly int Remaining => _payload.Length - _position;

    public byte Byte() => Take(1)[0];

    public bool Bool() => Byte() switch
    {
        0 => false,
        1 => true,
        var b => throw Malformed($"a flag byte is {b}"),
    };

    public int Int32() => BinaryPrimitives.ReadInt32LittleEndian(Take(sizeof(int)));

    public long Int64() => BinaryPrimitives.ReadInt64LittleEndian(Take(sizeof(long)));

    /// <summary>A varint of at most five bytes whose value fits an <see cref="int"/>.</summary>
    public int Length()
    {
        uint value = 0;
        for (var shift = 0; shift < 35; shift += 7)
        {
            var b = Byte();
            value |= (uint)(b & 0x7F) << shift;
            if (b < 0x80)
                return shift == 28 && b > 0x07 ? throw Malformed("a length exceeds 2^31-1") : (int)value;
        }
        throw Malformed("a length is longer than five bytes");
    }

    /// <summary>An element count; every element takes at least one byte, so more than remain cannot be right.</summary>
    public int Count()
    {
        var count = Length();
        return count <= Remaining ? count : throw Malformed($"a count of {count} exceeds the {Remaining} bytes left");
    }

    public byte[] Bytes() => Take(Length()).ToArray();

    public byte[]? NullableBytes()
    {
        var lengthPlusOne = Length();
        return lengthPlusOne == 0 ? null : Take(lengthPlusOne - 1).ToArray();
    }

    public string String() => Encoding.UTF8.GetString(Take(Length()));

    /// <summary>Every byte not read yet (a payload's last field, written without a length).</summary>
    public ReadOnlySpan<byte> Rest() => Take(Remaining);

    /// <summary>Every byte not read yet, without reading it (see <see cref="Skip"/>).</summary>
    public readonly ReadOnlySpan<byte> Peek() => _payload[_position..];

    public void Skip(int count) => Take(count);

    /// <summary>Trailing bytes mean the payload is not what the manifest says.</summary>
    public readonly void End()
    {
        if (Remaining != 0)
            throw Malformed($"{Remaining} bytes are left over");
    }

    public readonly SerializationException Malformed(string problem) =>
        new($"Malformed TcpStore message payload (manifest [{manifest}], {_payload.Length} bytes): {problem} at offset {_position}.");

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count > Remaining)
            throw Malformed($"{count} bytes are needed but {Remaining} are left");
        var span = _payload.Slice(_position, count);
        _position += count;
        return span;
    }
}
