//! JSON numbers that stay valid JSON: infinities become the strings "inf" / "-inf".

use serde_json::Value;

pub fn num(x: f64) -> Value {
    if x.is_finite() {
        serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
    } else if x == f64::INFINITY {
        Value::String("inf".into())
    } else if x == f64::NEG_INFINITY {
        Value::String("-inf".into())
    } else {
        Value::String("nan".into())
    }
}

pub fn nums(xs: &[f64]) -> Value {
    Value::Array(xs.iter().map(|&x| num(x)).collect())
}

pub fn opt(x: Option<f64>) -> Value {
    x.map_or(Value::Null, num)
}
