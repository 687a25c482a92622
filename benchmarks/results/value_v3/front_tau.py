import json,csv,numpy as np
from scipy.stats import kendalltau
rows=list(csv.DictReader(open('benchmarks/results/value_v3/trained.csv')))
ref=list(csv.DictReader(open([p for p in __import__('glob').glob('benchmarks/reference/*.csv')][0])))
acc={}
def key(a): return json.dumps(a,sort_keys=True)
for r in rows+[r for r in ref if r['seed']=='0']:
    acc.setdefault(key(json.loads(r['arch_json'])), float(r['val_acc']))
d=json.load(open('benchmarks/results/value_v3/fronts.json'))
pool={}
for s in d['searches']:
    xs=[];ys=[];lat=[]
    for m in s['members']:
        k=key(m['arch'])
        if k in acc: xs.append(m['score']);ys.append(acc[k]);lat.append(m['search_latency_ms']); pool[k]=(m['score'],acc[k],m['search_latency_ms'])
    t=kendalltau(xs,ys)[0]; tl=kendalltau(lat,ys)[0]
    print(s['group'],s['seed'],len(xs),'tau(score,acc)=%.2f tau(lat,acc)=%.2f'%(t,tl))
P=np.array(list(pool.values()))
rng=np.random.default_rng(0)
t=kendalltau(P[:,0],P[:,1])[0]
bs=[kendalltau(*P[i][:,:2].T)[0] for i in (rng.integers(0,len(P),len(P)) for _ in range(2000))]
print('pooled',len(P),'tau %.2f [%.2f,%.2f]'%(t,*np.percentile(bs,[2.5,97.5])))
tl=kendalltau(P[:,2],P[:,1])[0]; print('latency vs acc pooled %.2f'%tl)
