using System.Text;
using BenchmarkDotNet.Attributes;
using TcpStore.Protocol;

namespace TcpStore.Akka.Benchmarks;

/// <summary>
/// The request decoder (<see cref="QueryParser"/>) on the shapes the server sees: a 4 KiB read full of small
/// pipelined requests, and one SET carrying a 1 MiB value that arrives in 4 KiB reads.
/// </summary>
[Config(typeof(ShortConfig))]
public class DecoderBenchmarks
{
    private const int ChunkBytes = 4096;

    private readonly List<Query> _output = new(256);
    private byte[] _validate = [];
    private byte[] _pipelined = [];
    private byte[][] _bigValueChunks = [];

    /// <summary>Requests in the 4 KiB chunk (GET, SET, ADD, PING in turn, 16-byte keys, 64-byte values).</summary>
    public int PipelinedRequests { get; private set; }

    [GlobalSetup]
    public void Setup()
    {
        _validate = new byte[16];
        _validate = _validate[..QueryEncoder.WriteValidate(_validate)];

        // Whole requests only, as many as fit in 4 KiB: what one read of a pipelining client delivers.
        var value = new byte[64];
        var stream = new List<byte>(ChunkBytes);
        for (var i = 0; ; i++)
        {
            var key = Encoding.ASCII.GetBytes($"/bench/key/{i % 1000:D4}"); // 16 bytes, like "/" + a short key
            Query q = (i % 4) switch
            {
                0 => new Query.Get(key),
                1 => new Query.Set(key, value),
                2 => new Query.Add(key, 1),
                _ => new Query.Ping((uint)i),
            };
            var bytes = QueryEncoder.Encode(q);
            if (stream.Count + bytes.Length > ChunkBytes)
                break;
            stream.AddRange(bytes);
            PipelinedRequests++;
        }

        _pipelined = [.. stream];

        var big = QueryEncoder.Encode(new Query.Set(Encoding.ASCII.GetBytes("/bench/big"), new byte[1024 * 1024]));
        _bigValueChunks = big.Chunk(ChunkBytes).ToArray();
    }

    /// <summary>One 4 KiB read of pipelined GET/SET/ADD/PING (about 100 requests) into a validated parser.</summary>
    [Benchmark]
    public int Pipelined4KiBChunk()
    {
        var parser = new QueryParser(WireLimits.Default);
        parser.Feed(_validate, _output);
        parser.Feed(_pipelined, _output);
        var n = _output.Count;
        _output.Clear();
        return n;
    }

    /// <summary>A SET with a 1 MiB value, fed in 257 reads of 4 KiB (the value is assembled once).</summary>
    [Benchmark]
    public int Set1MiBValueIn4KiBChunks()
    {
        var parser = new QueryParser(WireLimits.Default);
        parser.Feed(_validate, _output);
        foreach (var chunk in _bigValueChunks)
            parser.Feed(chunk, _output);
        var n = _output.Count;
        _output.Clear();
        return n;
    }
}
