//! Wire codecs for the generated services.
//!
//! [`SliceCodec`] is prost's codec with one difference: a message is decoded from one
//! contiguous slice rather than through tonic's `DecodeBuf`, whose every `advance` goes
//! through `BytesMut`. For LogStream batches (hundreds of thousands of packed varints per
//! message) that was a tenth of the server's CPU. `build.rs` makes every generated client and
//! server use it.
//!
//! [`PreEncodedCodec`] sends messages that are already encoded (see
//! [`crate::v1::LogStreamRequest::encode_fast`]): a batch kept for re-sending is encoded
//! once and re-sent by reference count.

use std::marker::PhantomData;

use bytes::{Buf, BufMut, Bytes};
use prost::Message;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::Status;

/// prost encoding; decoding from a contiguous slice.
#[derive(Debug, Clone)]
pub struct SliceCodec<T, U> {
    _types: PhantomData<(T, U)>,
}

impl<T, U> Default for SliceCodec<T, U> {
    fn default() -> Self {
        Self {
            _types: PhantomData,
        }
    }
}

impl<T, U> Codec for SliceCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = SliceDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder(PhantomData)
    }

    fn decoder(&mut self) -> Self::Decoder {
        SliceDecoder(PhantomData)
    }
}

/// Encodes a prost message as prost does.
#[derive(Debug, Clone, Default)]
pub struct ProstEncoder<T>(PhantomData<T>);

impl<T: Message> Encoder for ProstEncoder<T> {
    type Item = T;
    type Error = Status;

    fn encode(&mut self, item: T, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        // EncodeBuf grows on demand, so encoding cannot run out of space.
        item.encode(buf)
            .map_err(|e| Status::internal(format!("encoding a message: {e}")))
    }
}

/// Decodes a prost message from one contiguous slice.
#[derive(Debug, Clone, Default)]
pub struct SliceDecoder<U>(PhantomData<U>);

impl<U: Message + Default> Decoder for SliceDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        let len = buf.remaining();
        let decoded = if buf.chunk().len() == len {
            let item = U::decode(buf.chunk());
            buf.advance(len);
            item
        } else {
            // Not contiguous (tonic normally hands over one buffer): gather it first.
            U::decode(buf.copy_to_bytes(len).as_ref())
        };
        // As prost's codec does: a message that does not parse is INTERNAL (gRPC's rule).
        decoded
            .map(Some)
            .map_err(|e| Status::internal(e.to_string()))
    }
}

/// Sends messages encoded beforehand; decodes answers as [`SliceCodec`] does.
#[derive(Debug, Clone)]
pub struct PreEncodedCodec<U> {
    _types: PhantomData<U>,
}

impl<U> Default for PreEncodedCodec<U> {
    fn default() -> Self {
        Self {
            _types: PhantomData,
        }
    }
}

impl<U> Codec for PreEncodedCodec<U>
where
    U: Message + Default + Send + 'static,
{
    type Encode = Bytes;
    type Decode = U;
    type Encoder = BytesEncoder;
    type Decoder = SliceDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        BytesEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        SliceDecoder(PhantomData)
    }
}

/// Writes an encoded message as it is.
#[derive(Debug, Clone, Copy, Default)]
pub struct BytesEncoder;

impl Encoder for BytesEncoder {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        buf.put_slice(&item);
        Ok(())
    }
}
