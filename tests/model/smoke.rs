use mmoracle::types::*;
use mmoracle::{Call, Model, Outcome, ProfileName, Value};

fn mmap_anon(len: u64, prot: Prot) -> Call {
    Call::Mmap {
        addr: Addr(0),
        len: Len(len),
        prot,
        flags: MapFlags::PRIVATE | MapFlags::ANON,
        fd: Fd::NOFD,
        off: 0,
    }
}

#[test]
fn map_store_load_unmap() {
    for p in ProfileName::ALL {
        let mut m = Model::new(p);
        let v = m.step(Pid(1), &mmap_anon(8192, Prot::READ | Prot::WRITE));
        let Outcome::Ok(Value::Addr(a)) = v.outcome else {
            panic!("{p}: {v:?}")
        };
        assert_eq!(
            m.step(
                Pid(1),
                &Call::Store {
                    addr: Addr(a.0 + 10),
                    data: vec![1, 2, 3]
                }
            )
            .outcome,
            Outcome::UNIT
        );
        assert_eq!(
            m.step(
                Pid(1),
                &Call::Load {
                    addr: Addr(a.0 + 9),
                    len: Len(5)
                }
            )
            .outcome,
            Outcome::Ok(Value::Bytes(vec![0, 1, 2, 3, 0]))
        );
        assert_eq!(
            m.step(
                Pid(1),
                &Call::Munmap {
                    addr: a,
                    len: Len(4096)
                }
            )
            .outcome,
            Outcome::UNIT
        );
        assert_eq!(
            m.step(Pid(1), &Call::Load { addr: a, len: Len(1) }).outcome,
            Outcome::Fault(Signal::SIGSEGV)
        );
        assert_eq!(
            m.step(
                Pid(1),
                &Call::Load {
                    addr: Addr(a.0 + 4096),
                    len: Len(1)
                }
            )
            .outcome,
            Outcome::Ok(Value::Bytes(vec![0]))
        );
        m.check_invariants().unwrap();
    }
}
