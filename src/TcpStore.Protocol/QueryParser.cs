using System.Buffers.Binary;

namespace TcpStore.Protocol;

/// <summary>
/// Incremental, resumable decoder of one connection's request bytes (docs/PROTOCOL.md §1–§2). Feed it chunks as they
/// arrive; it emits every query the chunk completes and keeps only the incomplete tail.
/// </summary>
/// <remarks>
/// <para>
/// A request is parsed as a sequence of fields (type byte, fixed-width integers, length-prefixed blobs, a key
/// count). Each completed field is consumed at once, so the internal buffer never holds more than one incomplete
/// field plus the newest chunk, and a long MULTI_SET is never re-scanned from its start.
/// </para>
/// <para>
/// Limits are checked as soon as a length or count prefix is readable, before any byte of the body is awaited;
/// a blob's array is allocated only once all of its bytes are present, and key lists grow as keys arrive.
/// </para>
/// <para>Not thread-safe: one instance per connection. After a violation the parser is unusable.</para>
/// </remarks>
public sealed class QueryParser
{
    /// <summary>Initial capacity of a key list; a larger claimed count grows the list as keys actually arrive.</summary>
    private const int MaxPreallocatedKeys = 64;

    /// <summary>An empty internal buffer larger than this is released so one big value does not pin memory.</summary>
    private const int RetainedBufferBytes = 64 * 1024;

    private const int LengthPrefixBytes = sizeof(ulong);

    private readonly WireLimits _limits;

    // Unconsumed input that arrived in earlier chunks: _buffer[_bufferStart.._bufferStart+_bufferCount).
    private byte[] _buffer = [];
    private int _bufferStart;
    private int _bufferCount;

    private bool _anyByteReceived;
    private int _validateBytesMatched;
    private bool _failed;

    // The request being decoded: its type and the fields completed so far. A filled slot is a completed field,
    // so a request resumes at its first empty slot.
    private QueryType? _type;
    private bool _keyCountRead;
    private byte[]? _key;
    private byte[]? _first;
    private byte[]? _second;
    private int _keyCount;
    private List<byte[]>? _keys;
    private List<KeyValuePair<byte[], byte[]>>? _pairs;
    private long _completedFieldBytes;

    /// <summary>A parser for one connection, enforcing <paramref name="limits"/>; it expects VALIDATE first.</summary>
    public QueryParser(WireLimits limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        ArgumentOutOfRangeException.ThrowIfNegative(limits.MaxKeyBytes, nameof(limits));
        ArgumentOutOfRangeException.ThrowIfNegative(limits.MaxValueBytes, nameof(limits));
        ArgumentOutOfRangeException.ThrowIfNegative(limits.MaxKeysPerRequest, nameof(limits));
        _limits = limits;
    }

    /// <summary>
    /// Parses requests whose connection was validated elsewhere (a batch forwarded from one node to another): every
    /// query in <paramref name="requests"/>, which must hold whole requests only, without VALIDATE.
    /// </summary>
    /// <exception cref="ProtocolViolationException">The bytes are not whole, valid requests under <paramref name="limits"/>.</exception>
    public static IReadOnlyList<Query> ParseValidated(ReadOnlySpan<byte> requests, WireLimits limits)
    {
        var parser = new QueryParser(limits) { _validateBytesMatched = WireFormat.ValidateLength };
        var queries = new List<Query>();
        parser.Feed(requests, queries);
        parser.Complete();
        return queries;
    }

    /// <summary>Bytes of the current incomplete field held in the internal buffer.</summary>
    public int BufferedByteCount => _bufferCount;

    /// <summary>
    /// Bytes the incomplete request holds so far: its completed fields plus the buffered tail. Zero between
    /// requests. Lets a connection cap what one slow request may pin.
    /// </summary>
    public long PendingRequestBytes => _completedFieldBytes + _bufferCount;

    /// <summary>True once the five VALIDATE bytes have been accepted.</summary>
    public bool IsValidated => _validateBytesMatched == WireFormat.ValidateLength;

    /// <summary>
    /// Parses every query completed by <paramref name="chunk"/> into <paramref name="output"/>, in order, and keeps
    /// the incomplete tail for the next call.
    /// </summary>
    /// <exception cref="ProtocolViolationException">
    /// The bytes are not a valid request. Queries completed before the offending one are already in
    /// <paramref name="output"/>; the parser must not be fed again.
    /// </exception>
    public void Feed(ReadOnlySpan<byte> chunk, ICollection<Query> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        ThrowIfFailed();
        if (chunk.IsEmpty)
            return;
        _anyByteReceived = true;

        try
        {
            if (_bufferCount == 0)
            {
                // Fast path: parse straight from the caller's span, keep only the leftover.
                var consumed = Parse(chunk, output);
                Append(chunk[consumed..]);
            }
            else
            {
                Append(chunk);
                var consumed = Parse(_buffer.AsSpan(_bufferStart, _bufferCount), output);
                _bufferStart += consumed;
                _bufferCount -= consumed;
                CompactBuffer();
            }
        }
        catch (ProtocolViolationException)
        {
            _failed = true;
            throw;
        }
    }

    /// <summary>
    /// Signals the end of the connection's input.
    /// </summary>
    /// <exception cref="ProtocolViolationException">
    /// <see cref="ViolationReason.TruncatedRequest"/> when a request (or VALIDATE) was only partly received.
    /// A connection that sent nothing, or ended exactly between requests, completes cleanly.
    /// </exception>
    public void Complete()
    {
        ThrowIfFailed();
        if (!_anyByteReceived)
            return;

        if (!IsValidated)
        {
            _failed = true;
            throw new ProtocolViolationException(ViolationReason.TruncatedRequest, QueryType.Validate,
                $"connection closed after {_validateBytesMatched} of {WireFormat.ValidateLength} VALIDATE bytes");
        }

        if (_type is { } type)
        {
            _failed = true;
            throw new ProtocolViolationException(ViolationReason.TruncatedRequest, type,
                $"connection closed mid-request with {PendingRequestBytes} argument bytes received");
        }
    }

    private void ThrowIfFailed()
    {
        if (_failed)
            throw new InvalidOperationException("The parser already reported a protocol violation; the connection must be closed.");
    }

    /// <summary>Parses as many queries as <paramref name="data"/> completes; returns the bytes consumed.</summary>
    private int Parse(ReadOnlySpan<byte> data, ICollection<Query> output)
    {
        var position = 0;
        if (!IsValidated)
        {
            position = MatchValidate(data);
            if (!IsValidated)
                return position;
        }

        while (true)
        {
            if (_type is null)
            {
                if (position == data.Length)
                    return position;
                _type = ReadQueryType(data[position++]);
            }

            var query = TryParseArguments(_type.Value, data, ref position);
            if (query is null)
                return position;

            output.Add(query);
            ResetRequest();
        }
    }

    /// <summary>Checks VALIDATE bytes as they arrive, so a wrong byte is refused at once.</summary>
    private int MatchValidate(ReadOnlySpan<byte> data)
    {
        var expected = WireFormat.ValidateMessage;
        var position = 0;
        while (position < data.Length && _validateBytesMatched < WireFormat.ValidateLength)
        {
            var actual = data[position];
            if (actual != expected[_validateBytesMatched])
            {
                if (_validateBytesMatched == 0)
                {
                    throw new ProtocolViolationException(ViolationReason.InvalidValidate, null,
                        $"the first byte is 0x{actual:x2}; a connection must start with VALIDATE (00 ce f7 85 3c)");
                }

                throw new ProtocolViolationException(ViolationReason.InvalidValidate, QueryType.Validate,
                    $"VALIDATE byte {_validateBytesMatched} is 0x{actual:x2}, expected 0x{expected[_validateBytesMatched]:x2} (magic must be ce f7 85 3c)");
            }

            _validateBytesMatched++;
            position++;
        }

        return position;
    }

    private static QueryType ReadQueryType(byte value)
    {
        if (value == (byte)QueryType.Validate)
        {
            throw new ProtocolViolationException(ViolationReason.RepeatedValidate, QueryType.Validate,
                "VALIDATE is only allowed as the first message of a connection");
        }

        if (value > (byte)WireFormat.LastQueryType)
        {
            throw new ProtocolViolationException(ViolationReason.UnknownQueryType, null,
                $"query type {value} is not one PyTorch sends (0..{(byte)WireFormat.LastQueryType})");
        }

        return (QueryType)value;
    }

    /// <summary>
    /// Advances the current request's fields as far as <paramref name="data"/> allows. Returns the query once its
    /// last field is read, else null (the fields read so far are kept).
    /// </summary>
    private Query? TryParseArguments(QueryType type, ReadOnlySpan<byte> data, ref int position)
    {
        switch (type)
        {
            case QueryType.Set:
            case QueryType.Append:
            case QueryType.QueuePush:
                if (!TryReadKey(type, data, ref position, ref _key)
                    || !TryReadValue(type, "value", data, ref position, ref _first))
                    return null;
                return type switch
                {
                    QueryType.Set => new Query.Set(_key!, _first!),
                    QueryType.Append => new Query.Append(_key!, _first!),
                    _ => new Query.QueuePush(_key!, _first!),
                };

            case QueryType.CompareSet:
                if (!TryReadKey(type, data, ref position, ref _key)
                    || !TryReadValue(type, "expected value", data, ref position, ref _first)
                    || !TryReadValue(type, "desired value", data, ref position, ref _second))
                    return null;
                return new Query.CompareSet(_key!, _first!, _second!);

            case QueryType.Get:
            case QueryType.DeleteKey:
            case QueryType.QueuePop:
            case QueryType.QueueLen:
                if (!TryReadKey(type, data, ref position, ref _key))
                    return null;
                return type switch
                {
                    QueryType.Get => new Query.Get(_key!),
                    QueryType.DeleteKey => new Query.DeleteKey(_key!),
                    QueryType.QueuePop => new Query.QueuePop(_key!),
                    _ => new Query.QueueLen(_key!),
                };

            case QueryType.Add:
            case QueryType.Barrier:
            {
                if (!TryReadKey(type, data, ref position, ref _key))
                    return null;
                if (data.Length - position < sizeof(long))
                    return null;
                var number = BinaryPrimitives.ReadInt64LittleEndian(data[position..]);
                position += sizeof(long);
                return type == QueryType.Add ? new Query.Add(_key!, number) : new Query.Barrier(_key!, number);
            }

            case QueryType.Check:
            case QueryType.Wait:
            case QueryType.MultiGet:
                if (!TryReadKeyCount(type, data, ref position))
                    return null;
                _keys ??= new List<byte[]>(Math.Min(_keyCount, MaxPreallocatedKeys));
                while (_keys.Count < _keyCount)
                {
                    byte[]? key = null;
                    if (!TryReadKey(type, data, ref position, ref key))
                        return null;
                    _keys.Add(key!);
                }

                return type switch
                {
                    QueryType.Check => new Query.Check(_keys),
                    QueryType.Wait => new Query.Wait(_keys),
                    _ => new Query.MultiGet(_keys),
                };

            case QueryType.MultiSet:
                if (!TryReadKeyCount(type, data, ref position))
                    return null;
                _pairs ??= new List<KeyValuePair<byte[], byte[]>>(Math.Min(_keyCount, MaxPreallocatedKeys));
                while (_pairs.Count < _keyCount)
                {
                    if (!TryReadKey(type, data, ref position, ref _key))
                        return null;
                    if (!TryReadValue(type, "value", data, ref position, ref _first))
                        return null;
                    _pairs.Add(new KeyValuePair<byte[], byte[]>(_key!, _first!));
                    _key = null;
                    _first = null;
                }

                return new Query.MultiSet(_pairs);

            case QueryType.Ping:
            {
                if (data.Length - position < sizeof(uint))
                    return null;
                var nonce = BinaryPrimitives.ReadUInt32LittleEndian(data[position..]);
                position += sizeof(uint);
                return new Query.Ping(nonce);
            }

            case QueryType.GetNumKeys:
                return Query.GetNumKeys.Instance;
            case QueryType.CancelWait:
                return Query.CancelWait.Instance;
            case QueryType.ListKeys:
                return Query.ListKeys.Instance;

            default:
                // ReadQueryType admits only 1..LastQueryType, all handled above.
                throw new InvalidOperationException($"Unhandled query type {type}.");
        }
    }

    private bool TryReadKey(QueryType type, ReadOnlySpan<byte> data, ref int position, ref byte[]? slot) =>
        TryReadBlob(type, data, ref position, _limits.MaxKeyBytes, ViolationReason.KeyTooLong, "key", ref slot);

    private bool TryReadValue(QueryType type, string what, ReadOnlySpan<byte> data, ref int position, ref byte[]? slot) =>
        TryReadBlob(type, data, ref position, _limits.MaxValueBytes, ViolationReason.ValueTooLong, what, ref slot);

    /// <summary>
    /// Reads a u64-length-prefixed blob into <paramref name="slot"/> unless it is already filled. The limit is checked
    /// as soon as the prefix is readable; nothing is consumed or allocated until the whole blob is present.
    /// </summary>
    private bool TryReadBlob(QueryType type, ReadOnlySpan<byte> data, ref int position, int maxLength,
        ViolationReason reason, string what, ref byte[]? slot)
    {
        if (slot is not null)
            return true;

        var available = data.Length - position;
        if (available < LengthPrefixBytes)
            return false;

        var claimed = BinaryPrimitives.ReadUInt64LittleEndian(data[position..]);
        if (claimed > (ulong)maxLength)
        {
            throw new ProtocolViolationException(reason, type,
                $"{what} length {claimed} exceeds the limit of {maxLength} bytes");
        }

        var length = (int)claimed;
        if (available - LengthPrefixBytes < length)
            return false;

        slot = length == 0 ? [] : data.Slice(position + LengthPrefixBytes, length).ToArray();
        position += LengthPrefixBytes + length;
        _completedFieldBytes += LengthPrefixBytes + length;
        return true;
    }

    /// <summary>Reads the u64 key (or pair) count of a multi-key request, once.</summary>
    private bool TryReadKeyCount(QueryType type, ReadOnlySpan<byte> data, ref int position)
    {
        if (_keyCountRead)
            return true;
        if (data.Length - position < LengthPrefixBytes)
            return false;

        var claimed = BinaryPrimitives.ReadUInt64LittleEndian(data[position..]);
        if (claimed > (ulong)_limits.MaxKeysPerRequest)
        {
            throw new ProtocolViolationException(ViolationReason.TooManyKeys, type,
                $"{(type == QueryType.MultiSet ? "pair" : "key")} count {claimed} exceeds the limit of {_limits.MaxKeysPerRequest}");
        }

        _keyCount = (int)claimed;
        position += LengthPrefixBytes;
        _completedFieldBytes += LengthPrefixBytes;
        _keyCountRead = true;
        return true;
    }

    private void ResetRequest()
    {
        _type = null;
        _keyCountRead = false;
        _key = null;
        _first = null;
        _second = null;
        _keyCount = 0;
        // The completed query owns these lists now; the next request starts new ones.
        _keys = null;
        _pairs = null;
        _completedFieldBytes = 0;
    }

    /// <summary>Appends unconsumed bytes behind what is buffered, growing the buffer by doubling.</summary>
    private void Append(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty)
            return;

        var required = (long)_bufferCount + bytes.Length;
        if (required > Array.MaxLength)
            throw new InsufficientMemoryException("A single request field does not fit in one buffer.");

        if (_bufferStart + required > _buffer.Length)
        {
            if (required <= _buffer.Length)
            {
                // Enough room once the consumed prefix is dropped.
                _buffer.AsSpan(_bufferStart, _bufferCount).CopyTo(_buffer);
            }
            else
            {
                var capacity = Math.Max(Math.Max(_buffer.Length * 2L, 256), required);
                var grown = new byte[Math.Min(capacity, Array.MaxLength)];
                _buffer.AsSpan(_bufferStart, _bufferCount).CopyTo(grown);
                _buffer = grown;
            }

            _bufferStart = 0;
        }

        bytes.CopyTo(_buffer.AsSpan(_bufferStart + _bufferCount));
        _bufferCount += bytes.Length;
    }

    private void CompactBuffer()
    {
        if (_bufferCount == 0)
        {
            _bufferStart = 0;
            if (_buffer.Length > RetainedBufferBytes)
                _buffer = [];
        }
    }
}
