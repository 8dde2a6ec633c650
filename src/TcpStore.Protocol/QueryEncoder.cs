using System.Buffers;
using System.Buffers.Binary;

namespace TcpStore.Protocol;

/// <summary>
/// The client side of the request framing: writes a <see cref="Query"/> exactly as PyTorch 2.10's client sends it
/// (docs/PROTOCOL.md §1, §2.1). Used by tests and by .NET clients; the server never encodes queries.
/// </summary>
public static class QueryEncoder
{
    /// <summary>Writes the 5-byte VALIDATE message; returns <see cref="WireFormat.ValidateLength"/>.</summary>
    public static int WriteValidate(Span<byte> destination)
    {
        destination[0] = (byte)QueryType.Validate;
        BinaryPrimitives.WriteUInt32LittleEndian(destination[1..], WireFormat.ValidationMagic);
        return WireFormat.ValidateLength;
    }

    /// <summary>The exact number of bytes <see cref="Encode(Query, Span{byte})"/> writes for <paramref name="query"/>.</summary>
    public static int GetEncodedLength(Query query)
    {
        ArgumentNullException.ThrowIfNull(query);
        var arguments = query switch
        {
            Query.Set set => VectorLength(set.Key) + VectorLength(set.Value),
            Query.CompareSet cas => VectorLength(cas.Key) + VectorLength(cas.Expected) + VectorLength(cas.Desired),
            Query.Get get => VectorLength(get.Key),
            Query.Add add => VectorLength(add.Key) + sizeof(long),
            Query.Check check => CountedVectorsLength(check.Keys),
            Query.Wait wait => CountedVectorsLength(wait.Keys),
            Query.GetNumKeys or Query.CancelWait or Query.ListKeys => 0L,
            Query.DeleteKey delete => VectorLength(delete.Key),
            Query.Append append => VectorLength(append.Key) + VectorLength(append.Value),
            Query.MultiGet multiGet => CountedVectorsLength(multiGet.Keys),
            Query.MultiSet multiSet => MultiSetLength(multiSet.Pairs),
            Query.Ping => sizeof(uint),
            Query.QueuePush push => VectorLength(push.Key) + VectorLength(push.Value),
            Query.QueuePop pop => VectorLength(pop.Key),
            Query.QueueLen len => VectorLength(len.Key),
            Query.Barrier barrier => VectorLength(barrier.Key) + sizeof(long),
            _ => throw new InvalidOperationException($"Unknown query {query.GetType().Name}."),
        };
        return checked((int)(1 + arguments));
    }

    /// <summary>Writes <paramref name="query"/> at the start of <paramref name="destination"/>; returns the bytes written.</summary>
    public static int Encode(Query query, Span<byte> destination)
    {
        var length = GetEncodedLength(query);
        if (destination.Length < length)
            throw new ArgumentException($"Need {length} bytes, the destination has {destination.Length}.", nameof(destination));

        destination[0] = (byte)query.Type;
        var position = 1;
        switch (query)
        {
            case Query.Set set:
                position += WireVector.Write(set.Key, destination[position..]);
                WireVector.Write(set.Value, destination[position..]);
                break;
            case Query.CompareSet cas:
                position += WireVector.Write(cas.Key, destination[position..]);
                position += WireVector.Write(cas.Expected, destination[position..]);
                WireVector.Write(cas.Desired, destination[position..]);
                break;
            case Query.Get get:
                WireVector.Write(get.Key, destination[position..]);
                break;
            case Query.Add add:
                position += WireVector.Write(add.Key, destination[position..]);
                BinaryPrimitives.WriteInt64LittleEndian(destination[position..], add.Delta);
                break;
            case Query.Check check:
                WriteCountedVectors(check.Keys, destination[position..]);
                break;
            case Query.Wait wait:
                WriteCountedVectors(wait.Keys, destination[position..]);
                break;
            case Query.DeleteKey delete:
                WireVector.Write(delete.Key, destination[position..]);
                break;
            case Query.Append append:
                position += WireVector.Write(append.Key, destination[position..]);
                WireVector.Write(append.Value, destination[position..]);
                break;
            case Query.MultiGet multiGet:
                WriteCountedVectors(multiGet.Keys, destination[position..]);
                break;
            case Query.MultiSet multiSet:
                BinaryPrimitives.WriteUInt64LittleEndian(destination[position..], (ulong)multiSet.Pairs.Count);
                position += sizeof(ulong);
                foreach (var pair in multiSet.Pairs)
                {
                    position += WireVector.Write(pair.Key, destination[position..]);
                    position += WireVector.Write(pair.Value, destination[position..]);
                }

                break;
            case Query.Ping ping:
                BinaryPrimitives.WriteUInt32LittleEndian(destination[position..], ping.Nonce);
                break;
            case Query.QueuePush push:
                position += WireVector.Write(push.Key, destination[position..]);
                WireVector.Write(push.Value, destination[position..]);
                break;
            case Query.QueuePop pop:
                WireVector.Write(pop.Key, destination[position..]);
                break;
            case Query.QueueLen len:
                WireVector.Write(len.Key, destination[position..]);
                break;
            case Query.Barrier barrier:
                position += WireVector.Write(barrier.Key, destination[position..]);
                BinaryPrimitives.WriteInt64LittleEndian(destination[position..], barrier.WorldSize);
                break;
        }

        return length;
    }

    /// <summary>Writes <paramref name="query"/> into <paramref name="writer"/>; returns the bytes written.</summary>
    public static int Encode(Query query, IBufferWriter<byte> writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        var length = GetEncodedLength(query);
        Encode(query, writer.GetSpan(length));
        writer.Advance(length);
        return length;
    }

    /// <summary>Encodes <paramref name="query"/> into a new array of exactly its length.</summary>
    public static byte[] Encode(Query query)
    {
        var bytes = new byte[GetEncodedLength(query)];
        Encode(query, bytes);
        return bytes;
    }

    /// <summary>
    /// Encodes a whole connection transcript: optionally VALIDATE first, then every query back to back.
    /// </summary>
    public static byte[] Encode(IReadOnlyList<Query> queries, bool validateFirst)
    {
        ArgumentNullException.ThrowIfNull(queries);
        var total = validateFirst ? WireFormat.ValidateLength : 0;
        foreach (var query in queries)
            total = checked(total + GetEncodedLength(query));

        var bytes = new byte[total];
        var position = validateFirst ? WriteValidate(bytes) : 0;
        foreach (var query in queries)
            position += Encode(query, bytes.AsSpan(position));
        return bytes;
    }

    private static long VectorLength(byte[] value) => sizeof(ulong) + (long)value.Length;

    private static long CountedVectorsLength(IReadOnlyList<byte[]> values)
    {
        long total = sizeof(ulong);
        foreach (var value in values)
            total += VectorLength(value);
        return total;
    }

    private static long MultiSetLength(IReadOnlyList<KeyValuePair<byte[], byte[]>> pairs)
    {
        long total = sizeof(ulong);
        foreach (var pair in pairs)
            total += VectorLength(pair.Key) + VectorLength(pair.Value);
        return total;
    }

    private static void WriteCountedVectors(IReadOnlyList<byte[]> values, Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(destination, (ulong)values.Count);
        WireVector.WriteAll(values, destination[sizeof(ulong)..]);
    }
}
